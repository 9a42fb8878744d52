"""payments and refunds: partial indexes on what is not final, for the reconciler and its gauges

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED_PAYMENTS = "status IN ('pending', 'processing')"
PENDING_REFUNDS = "status = 'pending'"


def upgrade() -> None:
    op.create_index(
        "ix_payments_unfinished_updated",
        "payments",
        ["updated_at", "id"],
        unique=False,
        postgresql_where=sa.text(UNFINISHED_PAYMENTS),
    )
    op.create_index(
        "ix_refunds_pending_updated",
        "refunds",
        ["updated_at", "id"],
        unique=False,
        postgresql_where=sa.text(PENDING_REFUNDS),
    )


def downgrade() -> None:
    op.drop_index("ix_refunds_pending_updated", table_name="refunds")
    op.drop_index("ix_payments_unfinished_updated", table_name="payments")
