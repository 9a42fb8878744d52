"""Publish outbox rows to SNS with PublishBatch, reporting the outcome of every row.

One row's failure never fails its neighbours: PublishBatch reports success per entry, and a
whole call that fails (endpoint down, throttled) fails only the rows of that call.
"""

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from payments_core.aws.clients import AwsClient
from payments_core.aws.topology import (
    EVENT_TYPE_ATTRIBUTE,
    MERCHANT_ID_ATTRIBUTE,
    TRACEPARENT_ATTRIBUTE,
)
from payments_core.events.envelope import envelope_json
from payments_core.outbox.publish_spans import PublishSpans
from payments_core.outbox.repository import PendingMessage

MAX_ENTRIES_PER_BATCH = 10
# SNS limits the whole PublishBatch request, not each entry, to 256 KiB.
MAX_BYTES_PER_BATCH = 256 * 1024


@dataclass
class PublishOutcome:
    published: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def message_body(message: PendingMessage) -> str:
    """The stored envelope, compact; the same bytes on every republish of the row."""
    return envelope_json(message.payload)


def message_attributes(
    message: PendingMessage, traceparent: str | None = None
) -> dict[str, dict[str, str]]:
    """`traceparent` (the publish span's) replaces the row's stored one when given."""
    attributes = {
        EVENT_TYPE_ATTRIBUTE: message.event_type,
        MERCHANT_ID_ATTRIBUTE: str(message.merchant_id),
    }
    carried = traceparent or message.traceparent
    if carried:
        attributes[TRACEPARENT_ATTRIBUTE] = carried
    return {
        name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
    }


def _entry_size(entry: dict[str, Any]) -> int:
    size = len(entry["Message"].encode())
    for name, attribute in entry["MessageAttributes"].items():
        size += len(name.encode()) + len(attribute["DataType"]) + len(attribute["StringValue"])
    return size


def batch_chunks(messages: Sequence[PendingMessage]) -> Iterator[list[PendingMessage]]:
    """Up to 10 messages and 256 KiB per chunk (an oversized message travels alone and fails)."""
    chunk: list[PendingMessage] = []
    chunk_bytes = 0
    for message in messages:
        size = _entry_size(_entry("0", message))
        if chunk and (
            len(chunk) == MAX_ENTRIES_PER_BATCH or chunk_bytes + size > MAX_BYTES_PER_BATCH
        ):
            yield chunk
            chunk, chunk_bytes = [], 0
        chunk.append(message)
        chunk_bytes += size
    if chunk:
        yield chunk


def _entry(
    entry_id: str, message: PendingMessage, traceparent: str | None = None
) -> dict[str, Any]:
    return {
        "Id": entry_id,
        "Message": message_body(message),
        "MessageAttributes": message_attributes(message, traceparent),
    }


class SnsBatchPublisher:
    """Publishes to one topic; chunks go out concurrently."""

    def __init__(self, sns_client: AwsClient, topic_arn: str) -> None:
        self._sns = sns_client
        self._topic_arn = topic_arn

    async def publish(self, messages: Sequence[PendingMessage]) -> PublishOutcome:
        chunks = list(batch_chunks(messages))
        results = await asyncio.gather(
            *(self._publish_chunk(chunk) for chunk in chunks), return_exceptions=True
        )
        outcome = PublishOutcome()
        for chunk, result in zip(chunks, results, strict=True):
            if isinstance(result, Exception):
                error = f"{type(result).__name__}: {result}"
                outcome.failed.update({message.id: error for message in chunk})
            elif isinstance(result, BaseException):
                raise result
            else:
                outcome.published.extend(result.published)
                outcome.failed.update(result.failed)
        return outcome

    async def _publish_chunk(self, chunk: list[PendingMessage]) -> PublishOutcome:
        # Positions as entry ids: always valid (alphanumeric, ≤ 80 chars) whatever the event id.
        by_entry_id = {str(index): message.id for index, message in enumerate(chunk)}
        spans = PublishSpans.start(chunk, self._topic_arn)
        try:
            response = await self._sns.publish_batch(
                TopicArn=self._topic_arn,
                PublishBatchRequestEntries=[
                    _entry(str(index), message, spans.traceparent(message))
                    for index, message in enumerate(chunk)
                ],
            )
        except BaseException as error:
            spans.end_all_failed(error)
            raise
        outcome = PublishOutcome()
        for success in response.get("Successful", []):
            outcome.published.append(by_entry_id.pop(success["Id"]))
        for failure in response.get("Failed", []):
            reason = f"{failure.get('Code', 'Unknown')}: {failure.get('Message', '')}"
            outcome.failed[by_entry_id.pop(failure["Id"])] = reason
        # An entry the response does not mention was not confirmed: retry it.
        outcome.failed.update(
            {event_id: "no result in response" for event_id in by_entry_id.values()}
        )
        spans.end(outcome.published, outcome.failed)
        return outcome
