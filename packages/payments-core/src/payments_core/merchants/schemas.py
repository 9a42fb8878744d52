"""Merchant wire models."""

import uuid
from typing import Annotated

from pydantic import AfterValidator, Field

from payments_core.merchants.models import Merchant
from payments_core.schemas import RequestModel, ResponseModel, Timestamp
from payments_core.urls import validate_http_url
from payments_core.validation import validate_email

Email = Annotated[str, Field(min_length=3, max_length=254), AfterValidator(validate_email)]
HttpUrl = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(validate_http_url)]


class MerchantCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200, examples=["Acme Stores"])
    email: Email = Field(examples=["payments@acme.test"])
    webhook_url: HttpUrl | None = Field(default=None, examples=["https://acme.test/webhooks"])


class MerchantOut(ResponseModel):
    id: uuid.UUID
    name: str
    email: str
    webhook_url: str | None
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, merchant: Merchant) -> "MerchantOut":
        return cls.model_validate(merchant, from_attributes=True)


class OnboardedMerchantOut(MerchantOut):
    api_key: str = Field(description="shown once; store it now")
