"""What a consumer's log lines carry while it handles one record: message, event and payment ids.

Read from the event envelope when the body is one; a body that is not leaves only the message id
(the handler reports it as poison on its own).
"""

import json
from typing import Any

from payments_core.consumer.records import SqsRecord


def record_log_context(record: SqsRecord) -> dict[str, str]:
    context = {"message_id": record.message_id}
    try:
        envelope: Any = json.loads(record.body)
    except ValueError:
        return context
    if not isinstance(envelope, dict):
        return context
    for field, name in (("id", "event_id"), ("type", "event_type")):
        if isinstance(envelope.get(field), str):
            context[name] = envelope[field]
    data = envelope.get("data")
    for entity in ("payment", "refund"):
        found = data.get(entity) if isinstance(data, dict) else None
        if isinstance(found, dict) and isinstance(found.get("id"), str):
            context[f"{entity}_id"] = found["id"]
    return context
