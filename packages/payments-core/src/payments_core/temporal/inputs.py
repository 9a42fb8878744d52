"""One dataclass input per workflow: fields can be added later without breaking histories."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentWorkflowInput:
    payment_id: str


@dataclass(frozen=True)
class RefundWorkflowInput:
    refund_id: str
    payment_id: str
