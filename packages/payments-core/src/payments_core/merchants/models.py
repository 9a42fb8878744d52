"""Merchant table: who owns payments, keys and endpoints."""

import uuid
from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from payments_core.db.columns import created_at_field, updated_at_field


class Merchant(SQLModel, table=True):
    __tablename__ = "merchants"
    __table_args__ = (Index("uq_merchants_email", text("lower(email)"), unique=True),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    webhook_url: str | None = Field(default=None, max_length=2048)
    is_active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
