"""Fixed-window request counters shared by every API replica (an UNLOGGED table)."""

from datetime import datetime

from sqlalchemy import Column, DateTime, Index
from sqlmodel import Field, SQLModel


class RateLimitCounter(SQLModel, table=True):
    __tablename__ = "rate_limit_counters"
    __table_args__ = (
        Index("ix_rate_limit_counters_window", "window_start"),
        {"prefixes": ["UNLOGGED"]},
    )

    bucket: str = Field(primary_key=True, max_length=80)
    window_start: datetime = Field(
        sa_column=Column(DateTime(timezone=True), primary_key=True, nullable=False)
    )
    count: int = 0
