"""API keys, stored only as a SHA-256 hash with a display prefix and last four."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from payments_core.db.columns import created_at_field, optional_timestamp_field


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("mode IN ('test', 'live')", name="ck_api_keys_mode"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    merchant_id: uuid.UUID = Field(foreign_key="merchants.id", index=True, ondelete="CASCADE")
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    last_four: str = Field(max_length=4)
    mode: str = Field(max_length=4)
    created_at: datetime = created_at_field()
    revoked_at: datetime | None = optional_timestamp_field()
