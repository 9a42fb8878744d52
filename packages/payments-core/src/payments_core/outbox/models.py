"""Transactional outbox: events written with the change they report, published by the relay."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from payments_core.db.columns import created_at_field, optional_timestamp_field


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "available_at",
            "created_at",
            postgresql_where=text("published_at IS NULL"),
        ),
        # The outbox is also the event log: the events API lists a merchant's, newest first.
        Index(
            "ix_outbox_merchant_created", "merchant_id", text("created_at DESC"), text("id DESC")
        ),
        Index(
            "ix_outbox_merchant_type_created",
            "merchant_id",
            "event_type",
            text("created_at DESC"),
            text("id DESC"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40, description="the event id, evt_…")
    event_type: str = Field(max_length=50)
    merchant_id: uuid.UUID = Field(foreign_key="merchants.id", ondelete="CASCADE")
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    traceparent: str | None = Field(default=None, max_length=64)
    created_at: datetime = created_at_field()
    available_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    published_at: datetime | None = optional_timestamp_field()
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    last_error: str | None = Field(default=None, max_length=1000)
