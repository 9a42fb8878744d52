"""The event envelope every consumer and webhook receives (CONTRACT.md §2)."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    PAYMENT_INITIATED = "payment.initiated"
    PAYMENT_PROCESSING = "payment.processing"
    PAYMENT_COMPLETED = "payment.completed"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_CANCELLED = "payment.cancelled"
    REFUND_CREATED = "refund.created"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the contract shows."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: EventType
    timestamp: datetime
    merchant_id: uuid.UUID
    data: dict[str, Any]

    @classmethod
    def new(cls, event_type: EventType, merchant_id: uuid.UUID, data: dict[str, Any]) -> "Event":
        return cls(new_event_id(), event_type, datetime.now(UTC), merchant_id, data)

    def envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type.value,
            "timestamp": format_timestamp(self.timestamp),
            "merchantId": str(self.merchant_id),
            "data": self.data,
        }
