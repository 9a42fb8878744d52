"""One SQS message, whichever way it arrived: boto3's ReceiveMessage or a Lambda SQS event.

The two shapes name the same things differently (`MessageId` / `messageId`, `StringValue` /
`stringValue`, ...); handlers see only `SqsRecord`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RECEIVE_COUNT_ATTRIBUTE = "ApproximateReceiveCount"


class MalformedRecord(ValueError):
    """The record has no message id, so it cannot even be reported as failed."""


@dataclass(frozen=True, slots=True)
class SqsRecord:
    message_id: str
    receipt_handle: str
    body: str
    # The message attributes with a string value (`type`, `merchantId`, `traceparent`).
    message_attributes: Mapping[str, str] = field(default_factory=dict)
    # SQS's own attributes (`ApproximateReceiveCount`, `SentTimestamp`, ...).
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def receive_count(self) -> int:
        """1 on the first delivery; 1 too when SQS did not say (the attribute was not asked for)."""
        raw = self.attributes.get(RECEIVE_COUNT_ATTRIBUTE, "")
        return int(raw) if raw.isdigit() and int(raw) > 0 else 1

    @property
    def first_receive(self) -> bool:
        return self.receive_count == 1

    def __repr__(self) -> str:
        # Never the body: it may hold data a merchant considers private.
        return f"SqsRecord(message_id={self.message_id!r}, receive_count={self.receive_count})"

    @classmethod
    def from_boto3(cls, message: Mapping[str, Any]) -> "SqsRecord":
        """A message of `receive_message(...)["Messages"]`."""
        return cls(
            message_id=_message_id(message.get("MessageId")),
            receipt_handle=str(message.get("ReceiptHandle", "")),
            body=str(message.get("Body", "")),
            message_attributes=_string_values(message.get("MessageAttributes"), "StringValue"),
            attributes=_strings(message.get("Attributes")),
        )

    @classmethod
    def from_lambda(cls, record: Mapping[str, Any]) -> "SqsRecord":
        """A record of a Lambda SQS event's `Records`."""
        return cls(
            message_id=_message_id(record.get("messageId")),
            receipt_handle=str(record.get("receiptHandle", "")),
            body=str(record.get("body", "")),
            message_attributes=_string_values(record.get("messageAttributes"), "stringValue"),
            attributes=_strings(record.get("attributes")),
        )


def _message_id(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedRecord("SQS record without a message id")
    return value


def _strings(attributes: object) -> dict[str, str]:
    if not isinstance(attributes, Mapping):
        return {}
    return {str(name): str(value) for name, value in attributes.items() if value is not None}


def _string_values(attributes: object, key: str) -> dict[str, str]:
    """`{"type": {"DataType": "String", "StringValue": "x"}}` → `{"type": "x"}`."""
    if not isinstance(attributes, Mapping):
        return {}
    values: dict[str, str] = {}
    for name, attribute in attributes.items():
        if isinstance(attribute, Mapping) and isinstance(attribute.get(key), str):
            values[str(name)] = attribute[key]
    return values
