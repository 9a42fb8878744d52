"""Column helpers shared by the table models."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, func
from sqlmodel import Field


def utcnow() -> datetime:
    """Now, to the millisecond: the precision the API shows, so a shown `createdAt` used as a
    filter bound (`createdTo`) or compared by a client matches the stored value exactly."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def created_at_field() -> Any:
    return Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def updated_at_field() -> Any:
    return Field(
        default_factory=utcnow,
        sa_column=Column(
            DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=utcnow
        ),
    )


def optional_timestamp_field() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
