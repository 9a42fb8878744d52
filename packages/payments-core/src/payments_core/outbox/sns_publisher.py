"""Publish outbox rows to SNS with PublishBatch, reporting the outcome of every row.

One row's failure never fails its neighbours: PublishBatch reports success per entry. A whole
call that fails (endpoint down, throttled, too slow to answer) fails its rows, and the claim's
chunks not yet sent are not sent at all: they fail with it and wait out the rows' backoff. Found
by `make chaos`: with every chunk of a 100-row claim sent at once, an SNS endpoint slowed by a
burst (a backlog after the API restarted) timed out on all ten calls, still did the work of
each, and got all of it again at every retry: the backlog never drained.
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
# PublishBatch calls in flight at once for one claim.
MAX_CONCURRENT_CALLS = 2
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


class NotSent(Exception):
    """A chunk left unsent because an earlier call of the same claim failed."""


class SnsBatchPublisher:
    """Publishes to one topic, a few chunks at a time, and no more once a call has failed."""

    def __init__(
        self,
        sns_client: AwsClient,
        topic_arn: str,
        *,
        max_concurrent_calls: int = MAX_CONCURRENT_CALLS,
    ) -> None:
        self._sns = sns_client
        self._topic_arn = topic_arn
        self._max_concurrent_calls = max_concurrent_calls

    async def publish(self, messages: Sequence[PendingMessage]) -> PublishOutcome:
        chunks = list(batch_chunks(messages))
        gate = asyncio.Semaphore(self._max_concurrent_calls)
        failed_call: list[Exception] = []

        async def publish_unless_failing(chunk: list[PendingMessage]) -> PublishOutcome:
            async with gate:
                if failed_call:
                    first = failed_call[0]
                    raise NotSent(f"an earlier call failed: {type(first).__name__}: {first}")
                try:
                    return await self._publish_chunk(chunk)
                except Exception as error:
                    failed_call.append(error)
                    raise

        results = await asyncio.gather(
            *(publish_unless_failing(chunk) for chunk in chunks), return_exceptions=True
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
