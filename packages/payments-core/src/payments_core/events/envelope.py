"""The event envelope every consumer and webhook receives (CONTRACT.md §2)."""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    PAYMENT_INITIATED = "payment.initiated"
    PAYMENT_PROCESSING = "payment.processing"
    PAYMENT_REQUIRES_ACTION = "payment.requires_action"
    PAYMENT_AUTHORIZED = "payment.authorized"
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


# jsonb keeps keys in its own order (shortest first), so the envelope's top level is put back
# in the contract's order for people reading messages; nested objects keep jsonb's order.
ENVELOPE_KEY_ORDER = ("id", "type", "timestamp", "merchantId", "data")


def envelope_json(payload: dict[str, Any]) -> str:
    """A stored envelope as sent on the bus and to webhooks: compact, the contract's key order,
    the same text every time the same row is sent."""
    ordered = {key: payload[key] for key in ENVELOPE_KEY_ORDER if key in payload}
    ordered.update(payload)
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)
