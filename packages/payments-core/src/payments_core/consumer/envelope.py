"""The event envelope (CONTRACT.md §2) read back from a record's body, or a PoisonMessage.

Reasons name what is wrong, never the body's content: it may hold merchant data.
"""

import json
from dataclasses import dataclass
from typing import Any

from payments_core.consumer.errors import PoisonMessage
from payments_core.events.envelope import EventType

_KNOWN_TYPES = frozenset(event_type.value for event_type in EventType)


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    id: str
    type: EventType
    merchant_id: str
    timestamp: str
    data: dict[str, Any]

    def __repr__(self) -> str:
        return f"ReceivedEvent(id={self.id!r}, type={self.type.value!r})"


def parse_event(body: str) -> ReceivedEvent:
    """The envelope in `body`; PoisonMessage when it is not one or its type is unknown."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise PoisonMessage("body is not JSON") from None
    if not isinstance(document, dict):
        raise PoisonMessage("body is not a JSON object")
    event_id = document.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise PoisonMessage("envelope without an id")
    event_type = document.get("type")
    if not isinstance(event_type, str) or event_type not in _KNOWN_TYPES:
        # The unknown value itself is not quoted: it is whatever the body says.
        raise PoisonMessage("envelope with an unknown type")
    data = document.get("data")
    if not isinstance(data, dict):
        raise PoisonMessage(f"{event_type} envelope without a data object")
    merchant_id = document.get("merchantId")
    timestamp = document.get("timestamp")
    return ReceivedEvent(
        id=event_id,
        type=EventType(event_type),
        merchant_id=merchant_id if isinstance(merchant_id, str) else "",
        timestamp=timestamp if isinstance(timestamp, str) else "",
        data=data,
    )


def required_id(event: ReceivedEvent, *path: str) -> str:
    """`data.<path>` as a non-empty string, e.g. `required_id(event, "payment", "id")`."""
    value: Any = event.data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise PoisonMessage(f"{event.type.value} event {event.id} without data.{'.'.join(path)}")
    return value
