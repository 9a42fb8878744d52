"""pipeline: refunds, sandbox ledger, payment steps

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_attempts",
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key"),
    )
    op.create_table(
        "sandbox_ledger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("operation", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("parent_reference", sa.String(length=64), nullable=True),
        sa.Column("decline_code", sa.String(length=50), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "operation IN ('authorize', 'capture', 'void', 'refund')",
            name="ck_sandbox_ledger_operation",
        ),
        sa.CheckConstraint(
            "outcome IN ('approved', 'declined', 'failed')", name="ck_sandbox_ledger_outcome"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index(
        op.f("ix_sandbox_ledger_parent_reference"),
        "sandbox_ledger",
        ["parent_reference"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sandbox_ledger_payment_id"), "sandbox_ledger", ["payment_id"], unique=False
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("failure_reason", sa.String(length=50), nullable=True),
        sa.Column("gateway_reference", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name="ck_refunds_status"
        ),
        sa.CheckConstraint("amount > 0", name="ck_refunds_amount_positive"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_refunds_merchant_id"), "refunds", ["merchant_id"], unique=False)
    op.create_index(
        "ix_refunds_payment_created",
        "refunds",
        ["payment_id", sa.literal_column("created_at DESC"), "id"],
        unique=False,
    )
    op.add_column("payments", sa.Column("capture_reference", sa.String(length=100), nullable=True))
    op.add_column("payments", sa.Column("processing_step", sa.String(length=20), nullable=True))
    op.create_index(
        "ix_payments_pending_created",
        "payments",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_check_constraint(
        "ck_payments_step",
        "payments",
        "processing_step IS NULL OR processing_step IN "
        "('authorizing', 'authorized', 'capturing', 'captured', 'voiding', 'voided')",
    )


def downgrade() -> None:
    op.drop_constraint("ck_payments_step", "payments", type_="check")
    op.drop_index(
        "ix_payments_pending_created",
        table_name="payments",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_column("payments", "processing_step")
    op.drop_column("payments", "capture_reference")
    op.drop_index("ix_refunds_payment_created", table_name="refunds")
    op.drop_index(op.f("ix_refunds_merchant_id"), table_name="refunds")
    op.drop_table("refunds")
    op.drop_index(op.f("ix_sandbox_ledger_payment_id"), table_name="sandbox_ledger")
    op.drop_index(op.f("ix_sandbox_ledger_parent_reference"), table_name="sandbox_ledger")
    op.drop_table("sandbox_ledger")
    op.drop_table("sandbox_attempts")
