"""SQS batch calls (delete, change visibility) in chunks of ten, failures logged by message id.

A failed delete is harmless (the effect is done; a redelivery finds it done, handlers being
idempotent) and a failed visibility change at worst redelivers early: both are logged, never
raised, so the loop goes on.
"""

from collections.abc import Callable, Sequence
from typing import Any

import structlog

from payments_core.aws.clients import AwsClient
from payments_core.aws.errors import aws_errors
from payments_core.consumer.records import SqsRecord

log = structlog.get_logger("payments_core.consumer")

BATCH_LIMIT = 10  # the SQS maximum per batch call


async def delete_batch(sqs: AwsClient, queue_url: str, records: Sequence[SqsRecord]) -> int:
    """Delete the records; returns how many SQS confirmed."""
    return await _in_chunks(sqs, "delete_message_batch", queue_url, records, {}, "delete")


async def change_visibility(
    sqs: AwsClient,
    queue_url: str,
    records: Sequence[SqsRecord],
    seconds: int,
    *,
    still_held: Callable[[SqsRecord], bool] | None = None,
) -> int:
    """Set the records' visibility; `still_held` leaves out those deleted meanwhile.

    A renewal reads the records held when it starts, and each chunk waits for the one before:
    a record deleted in between is left out of its chunk, and if its delete wins the race
    with the call itself, SQS's `ReceiptHandleIsInvalid` is expected and not worth a warning.
    """
    extra = {"VisibilityTimeout": seconds}
    return await _in_chunks(
        sqs, "change_message_visibility_batch", queue_url, records, extra, "visibility", still_held
    )


async def _in_chunks(
    sqs: AwsClient,
    method: str,
    queue_url: str,
    records: Sequence[SqsRecord],
    extra: dict[str, Any],
    what: str,
    still_held: Callable[[SqsRecord], bool] | None = None,
) -> int:
    confirmed = 0
    for start in range(0, len(records), BATCH_LIMIT):
        chunk = records[start : start + BATCH_LIMIT]
        if still_held is not None:
            chunk = [record for record in chunk if still_held(record)]
            if not chunk:
                continue
        entries = [
            {"Id": str(index), "ReceiptHandle": record.receipt_handle, **extra}
            for index, record in enumerate(chunk)
        ]
        try:
            with aws_errors(f"sqs:{method}"):
                response = await getattr(sqs, method)(QueueUrl=queue_url, Entries=entries)
        except Exception as error:
            log.warning(
                f"consumer.{what}_failed",
                message_ids=[record.message_id for record in chunk],
                error_type=type(error).__name__,
                error=str(error),
            )
            continue
        failures = response.get("Failed", [])
        confirmed += len(chunk) - len(failures)
        for failure in failures:
            record = chunk[int(failure["Id"])]
            if still_held is not None and not still_held(record):
                continue  # deleted while the call was in flight: nothing to renew
            log.warning(
                f"consumer.{what}_failed",
                message_ids=[record.message_id],
                error=str(failure.get("Code", "")),
            )
    return confirmed
