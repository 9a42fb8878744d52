"""The same handler behind AWS Lambda's SQS event source (with ReportBatchItemFailures on).

Lambda deletes the records a batch does not report: only the failed ones come back, and after
`maxReceiveCount` receives they land in the queue's DLQ as they would with the polling loop.

Pass an `asyncio.Runner` kept for the container's lifetime when the handler holds clients bound
to an event loop (Temporal, aiobotocore): each invocation then runs on the same loop, where
plain `asyncio.run` would make a new loop per invocation.
"""

import asyncio
from collections.abc import Mapping
from typing import Any, TypedDict

import structlog

from payments_core.consumer.batch import BatchOutcome, RecordHandler, handle_batch
from payments_core.consumer.records import SqsRecord

log = structlog.get_logger("payments_core.consumer")

UNKNOWN_QUEUE = "unknown"


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


def event_records(event: Mapping[str, Any]) -> list[SqsRecord]:
    """The records of a Lambda SQS event; MalformedRecord if one has no message id."""
    return [SqsRecord.from_lambda(record) for record in event.get("Records") or []]


def source_queue(event: Mapping[str, Any]) -> str:
    """The queue's name from the records' `eventSourceARN` (arn:aws:sqs:region:account:name):
    one event source mapping, one queue. It labels the metrics and names the spans."""
    for record in event.get("Records") or []:
        arn = record.get("eventSourceARN") if isinstance(record, Mapping) else None
        if isinstance(arn, str) and arn.count(":") >= 5:
            return arn.rsplit(":", 1)[1] or UNKNOWN_QUEUE
    return UNKNOWN_QUEUE


def batch_response(outcome: BatchOutcome) -> BatchResponse:
    return {"batchItemFailures": [{"itemIdentifier": item} for item in outcome.failed]}


async def process_event(
    event: Mapping[str, Any], handle_one: RecordHandler, *, concurrency: int
) -> BatchResponse:
    outcome = await handle_batch(
        event_records(event), handle_one, concurrency=concurrency, queue=source_queue(event)
    )
    log.info(
        "consumer.lambda_batch",
        succeeded=len(outcome.succeeded),
        failed=len(outcome.failed),
        poison=len(outcome.poison),
    )
    return batch_response(outcome)


def handle_event(
    event: Mapping[str, Any],
    handle_one: RecordHandler,
    *,
    concurrency: int,
    runner: asyncio.Runner | None = None,
) -> BatchResponse:
    """Run the batch to completion and return Lambda's partial batch response."""
    work = process_event(event, handle_one, concurrency=concurrency)
    return runner.run(work) if runner is not None else asyncio.run(work)
