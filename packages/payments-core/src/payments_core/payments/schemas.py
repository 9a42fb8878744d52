"""Payment wire models; `PaymentOut` is also the `data.payment` of every payment event."""

import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from payments_core.gateway.connector import SANDBOX
from payments_core.metadata import validate_metadata
from payments_core.money import Amount
from payments_core.payments.models import Payment
from payments_core.payments.status import CaptureMethod, PaymentStatus
from payments_core.schemas import RequestModel, ResponseModel, Timestamp

Metadata = Annotated[dict[str, Any], AfterValidator(validate_metadata)]

RETURN_URL_MAX_LENGTH = 2048


def _browser_url(value: str) -> str:
    """Where a customer's browser is sent back to: an absolute http(s) URL, nothing else (a
    `javascript:` or relative URL in a 303 would be the platform's open door)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if any(char.isspace() or ord(char) < 32 for char in value):
        raise ValueError("must not contain whitespace or control characters")
    return value


ReturnUrl = Annotated[
    str, Field(min_length=1, max_length=RETURN_URL_MAX_LENGTH), AfterValidator(_browser_url)
]


class PaymentCreate(RequestModel):
    amount: Amount = Field(description="minor units (kobo, cents)", examples=[100000])
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$", examples=["NGN"])
    payment_method_id: uuid.UUID
    reference: str | None = Field(
        default=None, min_length=1, max_length=255, description="the merchant's own reference"
    )
    description: str | None = Field(default=None, max_length=1000)
    metadata: Metadata = Field(default_factory=dict, examples=[{"orderId": "TEST-001"}])
    capture_method: CaptureMethod = Field(
        default=CaptureMethod.AUTOMATIC,
        description="manual: stop at `authorized` and capture with POST /payments/{id}/capture",
    )
    return_url: ReturnUrl | None = Field(
        default=None,
        description="where the customer's browser lands after authentication, with ?payment_id=",
    )


class PaymentCapture(RequestModel):
    amount: Amount | None = Field(
        default=None, description="minor units, at most the authorized amount; absent = all of it"
    )


class PaymentFilters(RequestModel):
    status: PaymentStatus | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


class ConnectorRef(ResponseModel):
    """Where the payment was routed: a merchant's connector, or the platform's sandbox (id
    null)."""

    id: uuid.UUID | None = None
    type: str = SANDBOX


class PaymentOut(ResponseModel):
    id: uuid.UUID
    merchant_id: uuid.UUID
    reference: str
    merchant_reference: str | None
    amount: int
    currency: str
    status: str
    description: str | None
    metadata: dict[str, Any]
    payment_method_id: uuid.UUID
    failure_reason: str | None
    gateway_reference: str | None
    amount_refunded: int
    capture_method: str = CaptureMethod.AUTOMATIC.value
    amount_captured: int = 0
    authorization_expires_at: Timestamp | None = None
    # {"type": "redirect_to_url", "redirectToUrl": {"url", "returnUrl"}} while the customer
    # must authenticate (requires_action), else null.
    next_action: dict[str, Any] | None = None
    connector: ConnectorRef = ConnectorRef()
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None

    @classmethod
    def of(cls, payment: Payment) -> "PaymentOut":
        return cls(
            id=payment.id,
            merchant_id=payment.merchant_id,
            reference=payment.reference,
            merchant_reference=payment.merchant_reference,
            amount=payment.amount,
            currency=payment.currency,
            status=payment.status,
            description=payment.description,
            metadata=payment.metadata_,
            payment_method_id=payment.payment_method_id,
            failure_reason=payment.failure_reason,
            gateway_reference=payment.gateway_reference,
            amount_refunded=payment.amount_refunded,
            capture_method=payment.capture_method,
            amount_captured=payment.amount_captured,
            authorization_expires_at=payment.authorization_expires_at,
            next_action=payment.next_action,
            connector=ConnectorRef(id=payment.connector_id, type=payment.connector_type),
            created_at=payment.created_at,
            updated_at=payment.updated_at,
            completed_at=payment.completed_at,
        )
