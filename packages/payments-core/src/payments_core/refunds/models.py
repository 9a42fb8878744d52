"""Refunds: each one moves (part of) a captured amount back; never more than remains."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, text
from sqlmodel import Field, SQLModel

from payments_core.db.columns import created_at_field, updated_at_field
from payments_core.refunds.status import RefundStatus

_STATUSES = ", ".join(f"'{member.value}'" for member in RefundStatus)
# Literal, not bound: PostgreSQL matches a partial index's predicate only against literals.
PENDING_REFUNDS = f"status = '{RefundStatus.PENDING.value}'"


class Refund(SQLModel, table=True):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_refunds_amount_positive"),
        CheckConstraint(f"status IN ({_STATUSES})", name="ck_refunds_status"),
        Index("ix_refunds_payment_created", "payment_id", text("created_at DESC"), "id"),
        # The sweeper looks for refunds left pending.
        Index("ix_refunds_pending_created", "created_at", postgresql_where=text(PENDING_REFUNDS)),
        # The reconciler and its gauges read only pending refunds, oldest change first.
        Index(
            "ix_refunds_pending_updated",
            "updated_at",
            "id",
            postgresql_where=text(PENDING_REFUNDS),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    payment_id: uuid.UUID = Field(foreign_key="payments.id", ondelete="RESTRICT")
    merchant_id: uuid.UUID = Field(foreign_key="merchants.id", ondelete="RESTRICT", index=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    status: str = Field(default=RefundStatus.PENDING.value, max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    failure_reason: str | None = Field(default=None, max_length=50)
    gateway_reference: str | None = Field(default=None, max_length=100)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
