"""Connectors: a merchant's processor account, its credentials sealed at rest."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from payments_core.db.columns import created_at_field, optional_timestamp_field, updated_at_field


class Connector(SQLModel, table=True):
    __tablename__ = "connectors"
    __table_args__ = (
        CheckConstraint("type IN ('stripe')", name="ck_connectors_type"),
        CheckConstraint("mode IN ('test', 'live')", name="ck_connectors_mode"),
        CheckConstraint("priority >= 0", name="ck_connectors_priority"),
        # Listing, and routing: a merchant's connectors in ascending priority.
        Index(
            "ix_connectors_merchant_priority",
            "merchant_id",
            "priority",
            "created_at",
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    merchant_id: uuid.UUID = Field(foreign_key="merchants.id", ondelete="RESTRICT")
    type: str = Field(max_length=20)
    priority: int = 0
    enabled: bool = True
    # test or live, from the processor key: it must match the mode of the merchant's API key.
    mode: str = Field(max_length=4)
    # The credentials as JSON, AES-GCM sealed and bound to this row's id (secret_box).
    credentials_sealed: str = Field(max_length=2000)
    credentials_last4: str = Field(max_length=4)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    deleted_at: datetime | None = optional_timestamp_field()


class ConnectorToken(SQLModel, table=True):
    """A card as one connector's vault knows it: the number went to each of the merchant's
    connectors when the payment method was registered, and only their tokens are kept."""

    __tablename__ = "connector_tokens"

    payment_method_id: uuid.UUID = Field(
        foreign_key="payment_methods.id", ondelete="CASCADE", primary_key=True
    )
    connector_id: uuid.UUID = Field(
        foreign_key="connectors.id", ondelete="CASCADE", primary_key=True
    )
    token: str = Field(max_length=100)
    created_at: datetime = created_at_field()


class ConnectorNotice(SQLModel, table=True):
    """A processor's asynchronous notice (a Stripe event), kept once per event id; the
    reconciler settles its payment and marks it processed."""

    __tablename__ = "connector_notices"
    __table_args__ = (
        UniqueConstraint("connector_id", "event_id", name="uq_connector_notices_event"),
        Index(
            "ix_connector_notices_unprocessed",
            "received_at",
            postgresql_where=text("processed_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    connector_id: uuid.UUID = Field(foreign_key="connectors.id", ondelete="CASCADE")
    event_id: str = Field(max_length=255)
    type: str = Field(max_length=100)
    payment_id: uuid.UUID | None = Field(
        default=None, foreign_key="payments.id", ondelete="CASCADE"
    )
    received_at: datetime = created_at_field()
    processed_at: datetime | None = optional_timestamp_field()
    outcome: str | None = Field(default=None, max_length=30)
