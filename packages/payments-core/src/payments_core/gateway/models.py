"""The sandbox gateway's card vault: what a token stands for, never the number or CVC."""

from datetime import datetime

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
