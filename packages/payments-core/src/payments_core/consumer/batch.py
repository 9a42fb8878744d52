"""A batch of SQS records through one per-record handler, with bounded concurrency.

Each record succeeds or fails on its own: an exception in one never touches the others, and the
outcome lists which message ids to delete (or, for Lambda, which to report as failures).
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import structlog

from payments_core.consumer.errors import PoisonMessage
from payments_core.consumer.log_context import record_log_context
from payments_core.consumer.records import SqsRecord
from payments_core.consumer.spans import consumer_span
from payments_core.telemetry.metrics import (
    CONSUMER_DEAD_LETTERED,
    CONSUMER_HANDLE_DURATION,
    CONSUMER_MESSAGES,
)

RecordHandler = Callable[[SqsRecord], Awaitable[None]]

log = structlog.get_logger("payments_core.consumer")


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    succeeded: tuple[str, ...]
    failed: tuple[str, ...]
    # The failed ones no retry can fix (a subset of `failed`).
    poison: tuple[str, ...] = ()


async def handle_batch(
    records: Iterable[SqsRecord],
    handle_one: RecordHandler,
    *,
    concurrency: int,
    queue: str = "unknown",
    max_receive_count: int | None = None,
) -> BatchOutcome:
    """Run `handle_one` over every record, at most `concurrency` at a time.

    Metrics are labelled with the `queue` name; a record that fails on receive number
    `max_receive_count` (the queue's redrive policy, when known) counts as dead-lettered.

    Cancellation (a drain that ran out of time) propagates: the records not finished are neither
    succeeded nor failed, and SQS delivers them again.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    batch = list(records)
    limit = asyncio.Semaphore(concurrency)
    succeeded: list[str] = []
    failed: list[str] = []
    poison: list[str] = []

    async def run(record: SqsRecord) -> None:
        async with limit:
            with structlog.contextvars.bound_contextvars(**record_log_context(record)):
                began = time.perf_counter()
                try:
                    with consumer_span(record, queue):
                        await handle_one(record)
                except PoisonMessage as error:
                    failed.append(record.message_id)
                    poison.append(record.message_id)
                    _count(queue, "poison", began, record, max_receive_count)
                    _log_poison(record, error)
                except Exception as error:
                    failed.append(record.message_id)
                    _count(queue, "failed", began, record, max_receive_count)
                    log.warning(
                        "consumer.record_failed",
                        message_id=record.message_id,
                        receive_count=record.receive_count,
                        error_type=type(error).__name__,
                        error=str(error),
                    )
                else:
                    succeeded.append(record.message_id)
                    _count(queue, "handled", began, record, max_receive_count)

    await asyncio.gather(*(run(record) for record in batch))
    order = {record.message_id: index for index, record in enumerate(batch)}
    return BatchOutcome(
        succeeded=tuple(sorted(succeeded, key=order.__getitem__)),
        failed=tuple(sorted(failed, key=order.__getitem__)),
        poison=tuple(sorted(poison, key=order.__getitem__)),
    )


def _count(
    queue: str, outcome: str, began: float, record: SqsRecord, max_receive_count: int | None
) -> None:
    CONSUMER_MESSAGES.labels(queue=queue, outcome=outcome).inc()
    CONSUMER_HANDLE_DURATION.labels(queue=queue, outcome=outcome).observe(
        time.perf_counter() - began
    )
    last_receive = max_receive_count is not None and record.receive_count >= max_receive_count
    if outcome != "handled" and last_receive:
        CONSUMER_DEAD_LETTERED.labels(queue=queue).inc()


def _log_poison(record: SqsRecord, error: PoisonMessage) -> None:
    """Once per message: on its first receive (the later ones fail the same way, quietly)."""
    if record.first_receive:
        log.error("consumer.poison_message", message_id=record.message_id, reason=error.reason)
    else:
        log.debug(
            "consumer.poison_message_again",
            message_id=record.message_id,
            receive_count=record.receive_count,
        )
