"""routing: a payment's connector, cards' tokens at each connector, processors' notices

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> "sa.Column[Any]":
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    op.add_column("payments", sa.Column("connector_id", sa.Uuid(), nullable=True))
    op.add_column(
        "payments",
        sa.Column(
            "connector_type", sa.String(20), server_default=sa.text("'sandbox'"), nullable=False
        ),
    )
    op.create_foreign_key(
        "payments_connector_id_fkey",
        "payments",
        "connectors",
        ["connector_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_table(
        "connector_tokens",
        sa.Column("payment_method_id", sa.Uuid(), nullable=False),
        sa.Column("connector_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(100), nullable=False),
        _now(),
        sa.ForeignKeyConstraint(["payment_method_id"], ["payment_methods.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["connector_id"], ["connectors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("payment_method_id", "connector_id"),
    )
    op.create_table(
        "connector_notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connector_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(30), nullable=True),
        sa.ForeignKeyConstraint(["connector_id"], ["connectors.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connector_id", "event_id", name="uq_connector_notices_event"),
    )
    op.create_index(
        "ix_connector_notices_unprocessed",
        "connector_notices",
        ["received_at"],
        unique=False,
        postgresql_where=sa.text("processed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_connector_notices_unprocessed", table_name="connector_notices")
    op.drop_table("connector_notices")
    op.drop_table("connector_tokens")
    op.drop_constraint("payments_connector_id_fkey", "payments", type_="foreignkey")
    op.drop_column("payments", "connector_type")
    op.drop_column("payments", "connector_id")
