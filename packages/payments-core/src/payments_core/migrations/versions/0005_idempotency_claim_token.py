"""idempotency_keys.claim_token: the fencing token of the request holding the key

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added without a default, then given one: a volatile default (gen_random_uuid()) in the
    # ADD COLUMN would rewrite the table under an exclusive lock while the API serves keys.
    # Rows claimed before this migration keep NULL, which no request's token matches: their
    # (old) requests store without a token, and a takeover gives the row a fresh one.
    op.add_column("idempotency_keys", sa.Column("claim_token", sa.Uuid(), nullable=True))
    op.alter_column("idempotency_keys", "claim_token", server_default=sa.text("gen_random_uuid()"))


def downgrade() -> None:
    op.drop_column("idempotency_keys", "claim_token")
