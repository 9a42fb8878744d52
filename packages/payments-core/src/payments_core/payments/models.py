"""Payments: integer minor units, statuses enforced by PostgreSQL."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from payments_core.db.columns import created_at_field, optional_timestamp_field, updated_at_field
from payments_core.payments.status import UNFINISHED, CaptureMethod, PaymentStatus, PaymentStep

_STATUSES = ", ".join(f"'{member.value}'" for member in PaymentStatus)
_STEPS = ", ".join(f"'{member.value}'" for member in PaymentStep)


# Literal, not bound: PostgreSQL matches a partial index's predicate only against literals.
UNFINISHED_PAYMENTS = f"status IN ({', '.join(repr(status.value) for status in UNFINISHED)})"


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_payments_amount_positive"),
        CheckConstraint(
            "amount_refunded >= 0 AND amount_refunded <= amount_captured",
            name="ck_payments_refunded",
        ),
        CheckConstraint(
            "amount_captured >= 0 AND amount_captured <= amount", name="ck_payments_captured"
        ),
        CheckConstraint(
            "capture_method IN ('automatic', 'manual')", name="ck_payments_capture_method"
        ),
        # The challenge page finds its payment by the hash of the token in its URL.
        Index(
            "ix_payments_authentication_token",
            "authentication_token_hash",
            unique=True,
            postgresql_where=text("authentication_token_hash IS NOT NULL"),
        ),
        CheckConstraint(f"status IN ({_STATUSES})", name="ck_payments_status"),
        CheckConstraint(
            f"processing_step IS NULL OR processing_step IN ({_STEPS})", name="ck_payments_step"
        ),
        # The sweeper looks for payments left pending.
        Index(
            "ix_payments_pending_created", "created_at", postgresql_where=text("status = 'pending'")
        ),
        # The reconciler and its gauges read only what is not final, oldest change first.
        Index(
            "ix_payments_unfinished_updated",
            "updated_at",
            "id",
            postgresql_where=text(UNFINISHED_PAYMENTS),
        ),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_payments_currency"),
        UniqueConstraint(
            "merchant_id", "merchant_reference", name="uq_payments_merchant_reference"
        ),
        Index("ix_payments_merchant_created", "merchant_id", text("created_at DESC"), "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    merchant_id: uuid.UUID = Field(foreign_key="merchants.id", ondelete="RESTRICT")
    payment_method_id: uuid.UUID = Field(foreign_key="payment_methods.id", ondelete="RESTRICT")
    # The merchant's connector the payment is routed to now (None: the platform's sandbox); a
    # fallback moves it to the next one by priority.
    connector_id: uuid.UUID | None = Field(
        default=None, foreign_key="connectors.id", ondelete="RESTRICT"
    )
    # Its type (sandbox, stripe), kept with the payment so showing it needs no join.
    connector_type: str = Field(
        default="sandbox",
        sa_column=Column(String(20), nullable=False, server_default=text("'sandbox'")),
    )
    reference: str = Field(max_length=40, unique=True)
    merchant_reference: str | None = Field(default=None, max_length=255)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    status: str = Field(default=PaymentStatus.PENDING.value, max_length=20)
    description: str | None = Field(default=None, max_length=1000)
    metadata_: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    failure_reason: str | None = Field(default=None, max_length=50)
    gateway_reference: str | None = Field(default=None, max_length=100)
    capture_reference: str | None = Field(default=None, max_length=100)
    processing_step: str | None = Field(default=None, max_length=20)
    amount_refunded: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default=text("0"))
    )
    capture_method: str = Field(
        default=CaptureMethod.AUTOMATIC.value,
        sa_column=Column(String(10), nullable=False, server_default=text("'automatic'")),
    )
    # What the gateway took; refunds are bounded by it. Set when the capture is recorded.
    amount_captured: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default=text("0"))
    )
    # A manual payment's capture as decided (POST /capture), before the gateway took it.
    amount_to_capture: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    hold_decision: str | None = Field(default=None, max_length=10)
    authorization_expires_at: datetime | None = optional_timestamp_field()
    return_url: str | None = Field(default=None, max_length=2048)
    next_action: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    # sha256 of the challenge page's single-use token; the token itself is only in the URL.
    authentication_token_hash: str | None = Field(default=None, max_length=64)
    authentication_outcome: str | None = Field(default=None, max_length=10)
    authentication_expires_at: datetime | None = optional_timestamp_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    completed_at: datetime | None = optional_timestamp_field()
