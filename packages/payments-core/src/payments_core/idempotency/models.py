"""Idempotency records (Stripe semantics): one per (merchant, key); operators use merchant NULL."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from payments_core.db.columns import created_at_field, optional_timestamp_field


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint(
            "merchant_id",
            "key",
            name="uq_idempotency_merchant_key",
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    merchant_id: uuid.UUID | None = Field(
        default=None, foreign_key="merchants.id", ondelete="CASCADE"
    )
    key: str = Field(max_length=255)
    method: str = Field(max_length=10)
    path: str = Field(max_length=2048)
    fingerprint: str = Field(max_length=64)
    locked_at: datetime | None = optional_timestamp_field()
    # The fencing token of the request holding the key: fresh at each claim and takeover. The
    # request's work and its stored response commit only while the row still carries its token,
    # so a request whose claim was taken over commits nothing (service.py). NULL only on rows
    # claimed before migration 0005.
    claim_token: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, nullable=True, server_default=text("gen_random_uuid()")),
    )
    response_status: int | None = None
    response_body: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSONB, nullable=True)
    )
    created_at: datetime = created_at_field()
