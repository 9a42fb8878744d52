"""Refund wire models; `RefundOut` is also the `data.refund` of refund events."""

import uuid

from pydantic import Field

from payments_core.money import Amount
from payments_core.refunds.models import Refund
from payments_core.schemas import RequestModel, ResponseModel, Timestamp


class RefundCreate(RequestModel):
    amount: Amount | None = Field(
        default=None,
        description="minor units; absent means everything that remains refundable",
        examples=[25000],
    )
    reason: str | None = Field(default=None, max_length=500, examples=["requested_by_customer"])


class RefundOut(ResponseModel):
    id: uuid.UUID
    payment_id: uuid.UUID
    merchant_id: uuid.UUID
    amount: int
    currency: str
    status: str
    reason: str | None
    failure_reason: str | None
    gateway_reference: str | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, refund: Refund) -> "RefundOut":
        return cls.model_validate(refund, from_attributes=True)
