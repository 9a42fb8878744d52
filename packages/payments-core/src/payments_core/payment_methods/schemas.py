"""Payment method wire models: a card to tokenize, or the original design's tokenized shape."""

import uuid
from typing import Annotated, Any, Self

from pydantic import AfterValidator, Field, SecretStr, StrictInt, field_validator, model_validator

from payments_core.metadata import validate_metadata
from payments_core.payment_methods.models import PaymentMethod
from payments_core.payment_methods.types import PaymentMethodType
from payments_core.schemas import RequestModel, ResponseModel, Timestamp

Metadata = Annotated[dict[str, Any], AfterValidator(validate_metadata)]


def _digits_only(value: SecretStr) -> SecretStr:
    digits = value.get_secret_value().replace(" ", "").replace("-", "")
    if not digits.isdigit():
        raise ValueError("must contain only digits")
    return SecretStr(digits)


class CardInput(RequestModel):
    number: Annotated[SecretStr, AfterValidator(_digits_only)] = Field(
        examples=["4242424242424242"]
    )
    exp_month: StrictInt = Field(ge=1, le=12, examples=[12])
    exp_year: StrictInt = Field(ge=2000, le=2100, examples=[2030])
    cvc: Annotated[SecretStr, AfterValidator(_digits_only)] = Field(examples=["123"])

    @field_validator("cvc")
    @classmethod
    def _cvc_length(cls, value: SecretStr) -> SecretStr:
        if not 3 <= len(value.get_secret_value()) <= 4:
            raise ValueError("cvc must be 3 or 4 digits")
        return value


class PaymentMethodCreate(RequestModel):
    type: PaymentMethodType = Field(examples=["card"])
    provider: str | None = Field(default=None, max_length=100, examples=["paystack"])
    last_four: str | None = Field(default=None, pattern=r"^\d{4}$")
    account_number: str | None = Field(default=None, pattern=r"^\d{4,34}$")
    bank_code: str | None = Field(default=None, max_length=50)
    bank_name: str | None = Field(default=None, max_length=200)
    metadata: Metadata = Field(default_factory=dict)
    card: CardInput | None = None

    @model_validator(mode="after")
    def _card_only_for_cards(self) -> Self:
        if self.card is not None and self.type is not PaymentMethodType.CARD:
            raise ValueError("card is only allowed when type is card")
        return self


class PaymentMethodOut(ResponseModel):
    id: uuid.UUID
    type: str
    provider: str | None
    brand: str | None
    last_four: str | None
    exp_month: int | None
    exp_year: int | None
    account_number: str | None = Field(description="masked to its last four digits")
    bank_code: str | None
    bank_name: str | None
    metadata: dict[str, Any]
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, method: PaymentMethod) -> "PaymentMethodOut":
        masked = f"******{method.account_last_four}" if method.account_last_four else None
        return cls(
            id=method.id,
            type=method.type,
            provider=method.provider,
            brand=method.brand,
            last_four=method.last_four,
            exp_month=method.exp_month,
            exp_year=method.exp_year,
            account_number=masked,
            bank_code=method.bank_code,
            bank_name=method.bank_name,
            metadata=method.metadata_,
            is_active=method.is_active,
            created_at=method.created_at,
            updated_at=method.updated_at,
        )
