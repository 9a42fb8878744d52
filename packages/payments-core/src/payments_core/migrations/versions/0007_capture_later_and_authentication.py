"""payments: capture later (authorized, holds, partial captures) and customer authentication

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = (
    "'pending', 'processing', 'requires_action', 'authorized', 'completed', 'failed', "
    "'cancelled', 'partially_refunded', 'refunded'"
)
OLD_STATUSES = (
    "'pending', 'processing', 'completed', 'failed', 'cancelled', 'partially_refunded', 'refunded'"
)
STEPS = (
    "'authorizing', 'authenticating', 'authorized', 'capturing', 'captured', 'voiding', 'voided'"
)
OLD_STEPS = "'authorizing', 'authorized', 'capturing', 'captured', 'voiding', 'voided'"
UNFINISHED = "status IN ('pending', 'processing', 'requires_action', 'authorized')"
OLD_UNFINISHED = "status IN ('pending', 'processing')"


def upgrade() -> None:
    op.add_column(
        "payments",
        sa.Column(
            "capture_method", sa.String(10), nullable=False, server_default=sa.text("'automatic'")
        ),
    )
    op.add_column(
        "payments",
        sa.Column("amount_captured", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column("payments", sa.Column("amount_to_capture", sa.BigInteger(), nullable=True))
    op.add_column("payments", sa.Column("hold_decision", sa.String(10), nullable=True))
    op.add_column(
        "payments",
        sa.Column("authorization_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("payments", sa.Column("return_url", sa.String(2048), nullable=True))
    op.add_column(
        "payments",
        sa.Column("next_action", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column("payments", sa.Column("authentication_token_hash", sa.String(64), nullable=True))
    op.add_column("payments", sa.Column("authentication_outcome", sa.String(10), nullable=True))
    op.add_column(
        "payments",
        sa.Column("authentication_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Everything captured before this revision was captured in full.
    op.execute(
        "UPDATE payments SET amount_captured = amount"
        " WHERE processing_step = 'captured'"
        " OR status IN ('completed', 'partially_refunded', 'refunded')"
    )
    op.drop_constraint("ck_payments_refunded", "payments", type_="check")
    op.create_check_constraint(
        "ck_payments_refunded",
        "payments",
        "amount_refunded >= 0 AND amount_refunded <= amount_captured",
    )
    op.create_check_constraint(
        "ck_payments_captured", "payments", "amount_captured >= 0 AND amount_captured <= amount"
    )
    op.create_check_constraint(
        "ck_payments_capture_method", "payments", "capture_method IN ('automatic', 'manual')"
    )
    op.drop_constraint("ck_payments_status", "payments", type_="check")
    op.create_check_constraint("ck_payments_status", "payments", f"status IN ({STATUSES})")
    op.drop_constraint("ck_payments_step", "payments", type_="check")
    op.create_check_constraint(
        "ck_payments_step", "payments", f"processing_step IS NULL OR processing_step IN ({STEPS})"
    )
    op.create_index(
        "ix_payments_authentication_token",
        "payments",
        ["authentication_token_hash"],
        unique=True,
        postgresql_where=sa.text("authentication_token_hash IS NOT NULL"),
    )
    op.drop_index("ix_payments_unfinished_updated", table_name="payments")
    op.create_index(
        "ix_payments_unfinished_updated",
        "payments",
        ["updated_at", "id"],
        unique=False,
        postgresql_where=sa.text(UNFINISHED),
    )


def downgrade() -> None:
    op.drop_index("ix_payments_unfinished_updated", table_name="payments")
    op.create_index(
        "ix_payments_unfinished_updated",
        "payments",
        ["updated_at", "id"],
        unique=False,
        postgresql_where=sa.text(OLD_UNFINISHED),
    )
    op.drop_index("ix_payments_authentication_token", table_name="payments")
    op.drop_constraint("ck_payments_step", "payments", type_="check")
    op.create_check_constraint(
        "ck_payments_step",
        "payments",
        f"processing_step IS NULL OR processing_step IN ({OLD_STEPS})",
    )
    op.drop_constraint("ck_payments_status", "payments", type_="check")
    op.create_check_constraint("ck_payments_status", "payments", f"status IN ({OLD_STATUSES})")
    op.drop_constraint("ck_payments_capture_method", "payments", type_="check")
    op.drop_constraint("ck_payments_captured", "payments", type_="check")
    op.drop_constraint("ck_payments_refunded", "payments", type_="check")
    op.create_check_constraint(
        "ck_payments_refunded", "payments", "amount_refunded >= 0 AND amount_refunded <= amount"
    )
    for column in (
        "authentication_expires_at",
        "authentication_outcome",
        "authentication_token_hash",
        "next_action",
        "return_url",
        "authorization_expires_at",
        "hold_decision",
        "amount_to_capture",
        "amount_captured",
        "capture_method",
    ):
        op.drop_column("payments", column)
