"""Payment methods: tokenized cards (number and CVC never stored) and other instruments."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, Index, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from payments_core.db.columns import created_at_field, updated_at_field
from payments_core.payment_methods.types import PaymentMethodType

_TYPES = ", ".join(f"'{member.value}'" for member in PaymentMethodType)


class PaymentMethod(SQLModel, table=True):
    __tablename__ = "payment_methods"
    __table_args__ = (
        CheckConstraint(f"type IN ({_TYPES})", name="ck_payment_methods_type"),
        CheckConstraint("exp_month IS NULL OR exp_month BETWEEN 1 AND 12", name="ck_pm_exp_month"),
        Index("ix_payment_methods_merchant_created", "merchant_id", text("created_at DESC"), "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    merchant_id: uuid.UUID = Field(foreign_key="merchants.id", ondelete="CASCADE")
    type: str = Field(max_length=20)
    provider: str | None = Field(default=None, max_length=100)
    brand: str | None = Field(default=None, max_length=20)
    last_four: str | None = Field(default=None, max_length=4)
    exp_month: int | None = None
    exp_year: int | None = None
    gateway_token: str | None = Field(default=None, max_length=100)
    account_last_four: str | None = Field(default=None, max_length=4)
    bank_code: str | None = Field(default=None, max_length=50)
    bank_name: str | None = Field(default=None, max_length=200)
    metadata_: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    is_active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
