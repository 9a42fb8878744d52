"""Webhook endpoints, one delivery per (event, endpoint), and every attempt of a delivery.

Events themselves are the outbox rows (`outbox`): written in the transaction of the change they
report and never deleted, they are the event log the events API reads and deliveries point at.
Deliveries double as the retry queue: a pending delivery is due at `next_attempt_at`, and a
sender claims it by pushing that time out by a lease (see `deliveries.claim_due`).
"""

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from payments_core.db.columns import created_at_field, optional_timestamp_field, updated_at_field
from payments_core.webhooks.status import DeliveryStatus, DisabledReason

_DELIVERY_STATUSES = ", ".join(f"'{member.value}'" for member in DeliveryStatus)
_DISABLED_REASONS = ", ".join(f"'{member.value}'" for member in DisabledReason)


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index(
            "ix_webhook_endpoints_merchant_created",
            "merchant_id",
            text("created_at DESC"),
            "id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        CheckConstraint(
            f"disabled_reason IS NULL OR disabled_reason IN ({_DISABLED_REASONS})",
            name="ck_webhook_endpoints_disabled_reason",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    merchant_id: uuid.UUID = Field(foreign_key="merchants.id", ondelete="RESTRICT")
    url: str = Field(max_length=2048)
    description: str | None = Field(default=None, max_length=500)
    # Event types, or "*" for every type.
    enabled_events: list[str] = Field(sa_column=Column(ARRAY(String(50)), nullable=False))
    disabled: bool = False
    disabled_reason: str | None = Field(default=None, max_length=20)
    # AES-GCM sealed `whsec_` secrets (secret_box); the previous one signs too until it expires.
    secret_sealed: str = Field(max_length=200)
    previous_secret_sealed: str | None = Field(default=None, max_length=200)
    previous_secret_expires_at: datetime | None = optional_timestamp_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    # Deleted endpoints stay for their delivery history, invisible to the API.
    deleted_at: datetime | None = optional_timestamp_field()


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
        CheckConstraint(f"status IN ({_DELIVERY_STATUSES})", name="ck_webhook_deliveries_status"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    event_id: str = Field(foreign_key="outbox.id", ondelete="CASCADE", max_length=40)
    endpoint_id: uuid.UUID = Field(
        foreign_key="webhook_endpoints.id", ondelete="CASCADE", index=True
    )
    merchant_id: uuid.UUID = Field(foreign_key="merchants.id", ondelete="RESTRICT")
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=20)
    attempt_count: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    # Retries used from the schedule; a redelivery starts the schedule again.
    retries_used: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    next_attempt_at: datetime | None = optional_timestamp_field()
    # Set by the sender that claimed the delivery; its result applies only while it matches.
    lease_token: uuid.UUID | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    completed_at: datetime | None = optional_timestamp_field()


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"
    __table_args__ = (
        UniqueConstraint("delivery_id", "attempt_number", name="uq_webhook_attempts_number"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    delivery_id: uuid.UUID = Field(foreign_key="webhook_deliveries.id", ondelete="CASCADE")
    attempt_number: int = Field(sa_column=Column(Integer, nullable=False))
    status_code: int | None = None
    duration_ms: int = Field(sa_column=Column(Integer, nullable=False))
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_at_field()
