"""Merchant wire models."""

import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from payments_core.merchants.models import Merchant
from payments_core.schemas import RequestModel, ResponseModel, Timestamp
from payments_core.validation import validate_email

Email = Annotated[str, Field(min_length=3, max_length=254), AfterValidator(validate_email)]


class MerchantCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200, examples=["Acme Stores"])
    email: Email = Field(examples=["payments@acme.test"])
    # Checked by the webhook URL guard when onboarding (it resolves the name, so not here).
    webhook_url: str | None = Field(
        default=None, min_length=1, max_length=2048, examples=["https://acme.test/webhooks"]
    )


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
    webhook_secret: str | None = Field(
        default=None,
        description="whsec_…, only when webhookUrl was given (the endpoint it signs for receives "
        "every event); shown once; store it now",
    )

    def to_json(self) -> dict[str, Any]:
        # Without a webhookUrl there is no secret: leave the field out rather than send null.
        return self.model_dump(
            mode="json",
            by_alias=True,
            exclude={"webhook_secret"} if not self.webhook_secret else None,
        )
