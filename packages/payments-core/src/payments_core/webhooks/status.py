"""Where a webhook delivery stands: pending (first attempt or a retry due), then final."""

from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DisabledReason(StrEnum):
    MERCHANT = "merchant"  # PATCH disabled=true
    GONE = "gone"  # the endpoint answered 410 Gone
