"""The sandbox gateway's own tables: its card vault and its ledger of money movements.

The vault stores what a token stands for, never the number or CVC. The ledger is how tests
prove "never charged twice" and "voided after compensation".
"""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column
from sqlmodel import Field, SQLModel

from payments_core.db.columns import created_at_field


class SandboxCard(SQLModel, table=True):
    __tablename__ = "sandbox_vault_cards"

    token: str = Field(primary_key=True, max_length=64)
    brand: str = Field(max_length=20)
    last_four: str = Field(max_length=4)
    exp_month: int
    exp_year: int
    behaviour: str = Field(max_length=40, description="which test-card scenario this card plays")
    created_at: datetime = created_at_field()


class SandboxLedgerEntry(SQLModel, table=True):
    """One money movement the sandbox acquirer performed (or refused), once per idempotency key."""

    __tablename__ = "sandbox_ledger"
    __table_args__ = (
        CheckConstraint(
            "operation IN ('authorize', 'capture', 'void', 'refund')",
            name="ck_sandbox_ledger_operation",
        ),
        CheckConstraint(
            "outcome IN ('approved', 'declined', 'failed')", name="ck_sandbox_ledger_outcome"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    operation: str = Field(max_length=10)
    outcome: str = Field(max_length=10)
    payment_id: str | None = Field(default=None, max_length=64, index=True)
    token: str | None = Field(default=None, max_length=64)
    amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    reference: str | None = Field(default=None, max_length=64, unique=True)
    parent_reference: str | None = Field(default=None, max_length=64, index=True)
    decline_code: str | None = Field(default=None, max_length=50)
    created_at: datetime = created_at_field()


class SandboxAttempt(SQLModel, table=True):
    """How many times a key was tried: the 0119 card fails its first two authorizations."""

    __tablename__ = "sandbox_attempts"

    idempotency_key: str = Field(primary_key=True, max_length=200)
    attempts: int = 0
