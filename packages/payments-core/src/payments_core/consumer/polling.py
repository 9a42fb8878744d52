"""The long-polling loop a consumer container runs around `handle_batch`.

- Receives up to 10 messages whenever a handler slot is free (at most `concurrency` records are
  in flight), so one slow record does not hold up the next receive.
- Deletes only the records whose handler returned; a failed record comes back when its
  visibility ends, and after `maxReceiveCount` receives SQS moves it to the queue's DLQ.
- Renews the visibility of every record not yet deleted, so slow work is not delivered twice.
- On `stop()`: stops receiving, lets in-flight records finish for up to `drain_timeout`, deletes
  what succeeded, and hands the rest back to SQS at once. An open long poll is left to end (within
  `wait_seconds`, while the drain runs) and what it brings is handed back at once: abandoned, it
  would still take messages that arrive meanwhile, hidden from every consumer for the
  visibility timeout.
- Never dies on an exception: it logs, backs off and carries on.
"""

import asyncio
import time
from collections.abc import Awaitable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from payments_core.aws.clients import AwsClient
from payments_core.aws.errors import aws_errors
from payments_core.consumer.batch import RecordHandler, handle_batch
from payments_core.consumer.queues import (
    DEFAULT_VISIBILITY_TIMEOUT,
    queue_label,
    queue_max_receive_count,
    queue_visibility_timeout,
    resolve_queue_url,
)
from payments_core.consumer.records import RECEIVE_COUNT_ATTRIBUTE, MalformedRecord, SqsRecord
from payments_core.consumer.settings import ConsumerSettings
from payments_core.consumer.sqs_batches import change_visibility, delete_batch
from payments_core.telemetry.metrics import CONSUMER_LAST_POLL

T = TypeVar("T")

log = structlog.get_logger("payments_core.consumer")

MAX_MESSAGES_PER_RECEIVE = 10  # the SQS maximum
# With WaitTimeSeconds=0 an empty queue answers at once: pause instead of spinning.
EMPTY_SHORT_POLL_PAUSE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class PollingConfig:
    queue: str  # a queue name (resolved to its URL in this account) or a queue URL
    concurrency: int = 10
    wait_seconds: int = 20
    # Seconds a received message stays hidden, renewed while its handler runs; None means the
    # queue's own VisibilityTimeout.
    visibility_timeout: int | None = None
    # How often visibility is renewed; None means a third of the visibility timeout.
    extend_every: float | None = None
    drain_timeout: float = 25.0
    initial_backoff: float = 1.0
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 0 <= self.wait_seconds <= 20:
            raise ValueError("wait_seconds must be between 0 and 20 (the SQS maximum)")
        if self.visibility_timeout is not None and self.visibility_timeout < 1:
            raise ValueError("visibility_timeout must be at least 1 second")

    @classmethod
    def from_settings(
        cls, queue: str, *, concurrency: int, settings: ConsumerSettings
    ) -> "PollingConfig":
        return cls(
            queue=queue,
            concurrency=concurrency,
            wait_seconds=settings.sqs_wait_seconds,
            visibility_timeout=settings.sqs_visibility_timeout,
            drain_timeout=settings.sqs_drain_seconds,
        )


@dataclass
class PollerStats:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    deleted: int = 0
    receive_errors: int = 0
    handed_back: int = 0


class _Stopped(Exception):
    """The poller was asked to stop while waiting."""


class _Capacity:
    """Handler slots: a receive asks for at most as many messages as there are free slots."""

    def __init__(self, total: int) -> None:
        self.free = total
        self._changed = asyncio.Event()

    def take_up_to(self, wanted: int) -> int:
        taken = min(wanted, self.free)
        self.free -= taken
        return taken

    def give_back(self, count: int = 1) -> None:
        if count:
            self.free += count
            self._changed.set()

    async def wait_free(self) -> None:
        while self.free <= 0:
            self._changed.clear()
            await self._changed.wait()


@dataclass
class _Batch:
    records: list[SqsRecord]
    succeeded: list[SqsRecord] = field(default_factory=list)
    # Handled, successfully or not; the others were cut short by a drain that ran out of time.
    finished: set[str] = field(default_factory=set)
    # Message ids whose handler slot is still taken.
    holding_slot: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.holding_slot = {record.message_id for record in self.records}

    @property
    def abandoned(self) -> list[SqsRecord]:
        return [record for record in self.records if record.message_id not in self.finished]


class SqsPoller:
    """`await poller.run()` until `poller.stop()`; `run` returns once drained."""

    def __init__(self, sqs: AwsClient, handle_one: RecordHandler, config: PollingConfig) -> None:
        self._sqs = sqs
        self._handle_one = handle_one
        self.config = config
        self.stats = PollerStats()
        self.queue_url: str | None = None
        self.visibility_timeout = config.visibility_timeout or DEFAULT_VISIBILITY_TIMEOUT
        # From the queue's redrive policy: a record failing on this receive goes to the DLQ.
        self.max_receive_count: int | None = None
        self._stopping = asyncio.Event()
        self._capacity = _Capacity(config.concurrency)
        self._batches: set[asyncio.Task[None]] = set()
        # Received and not yet deleted or given up: their visibility is renewed.
        self._hidden: dict[str, SqsRecord] = {}
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    @property
    def healthy(self) -> bool:
        """Running and not draining: what a liveness endpoint reports."""
        return self._running and not self._stopping.is_set()

    @property
    def in_flight(self) -> int:
        return len(self._hidden)

    def stop(self) -> None:
        """Stop receiving and drain; safe to call more than once."""
        self._stopping.set()

    async def run(self) -> None:
        self._running = True
        log_context = log.bind(queue=self.config.queue)
        try:
            if not await self._prepare():
                return
            log_context.info(
                "consumer.started",
                wait_seconds=self.config.wait_seconds,
                visibility_timeout=self.visibility_timeout,
                concurrency=self.config.concurrency,
            )
            extender = asyncio.create_task(self._extend_visibility_forever())
            try:
                await self._receive_loop()
            except asyncio.CancelledError:
                await self._abandon(set(self._batches))
                raise
            else:
                await self._drain()
            finally:
                extender.cancel()
                await asyncio.gather(extender, return_exceptions=True)
            log_context.info("consumer.stopped", **_as_fields(self.stats))
        finally:
            self._running = False

    # -- start -------------------------------------------------------------------------------

    async def _prepare(self) -> bool:
        """The queue URL and visibility timeout, retried until they come or we are stopped."""
        backoff = self.config.initial_backoff
        while not self._stopping.is_set():
            try:
                self.queue_url = await resolve_queue_url(self._sqs, self.config.queue)
                if self.config.visibility_timeout is None:
                    found = await queue_visibility_timeout(self._sqs, self.queue_url)
                    self.visibility_timeout = max(found, 1)
                self.max_receive_count = await queue_max_receive_count(self._sqs, self.queue_url)
                return True
            except Exception as error:
                log.warning(
                    "consumer.queue_unavailable",
                    queue=self.config.queue,
                    error_type=type(error).__name__,
                    error=str(error),
                    retry_in=backoff,
                )
                await self._pause(backoff)
                backoff = min(backoff * 2, self.config.max_backoff)
        return False

    # -- receive -----------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        backoff = self.config.initial_backoff
        while not self._stopping.is_set():
            try:
                await self._unless_stopped(self._capacity.wait_free())
            except _Stopped:
                return
            reserved = self._capacity.take_up_to(MAX_MESSAGES_PER_RECEIVE)
            receive = asyncio.ensure_future(self._receive(reserved))
            if await self._stopped_first(receive):
                self._hand_back_when_received(receive, reserved)
                return
            try:
                messages = receive.result()
            except Exception as error:
                self._capacity.give_back(reserved)
                self.stats.receive_errors += 1
                log.warning(
                    "consumer.receive_failed",
                    queue=self.config.queue,
                    error_type=type(error).__name__,
                    error=str(error),
                    retry_in=backoff,
                )
                await self._pause(backoff)
                backoff = min(backoff * 2, self.config.max_backoff)
                continue
            backoff = self.config.initial_backoff
            records = _records(messages)
            self._capacity.give_back(reserved - len(records))
            if records:
                self._start_batch(records)
            elif self.config.wait_seconds == 0:
                await self._pause(EMPTY_SHORT_POLL_PAUSE_SECONDS)

    async def _receive(self, count: int) -> list[dict[str, Any]]:
        with aws_errors("sqs:ReceiveMessage"):
            response = await self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=self.config.wait_seconds,
                VisibilityTimeout=self.visibility_timeout,
                MessageAttributeNames=["All"],
                AttributeNames=[RECEIVE_COUNT_ATTRIBUTE],
            )
        # The heartbeat: a receive returned, with messages or after an empty long poll.
        CONSUMER_LAST_POLL.labels(queue=queue_label(self.config.queue)).set_to_current_time()
        messages: list[dict[str, Any]] = response.get("Messages", [])
        self.stats.received += len(messages)
        return messages

    def _hand_back_when_received(
        self, receive: asyncio.Future[list[dict[str, Any]]], reserved: int
    ) -> None:
        """Stopped during a long poll: let it end and hand back what it brings, as part of the
        drain (which waits for it, and cancels it when the drain runs out of time)."""

        async def hand_back() -> None:
            try:
                records = _records(await receive)
            except Exception:
                return  # a failed receive took nothing
            finally:
                self._capacity.give_back(reserved)
            if records:
                await change_visibility(self._sqs, self._resolved_url(), records, 0)
                self.stats.handed_back += len(records)
                log.info("consumer.handed_back", queue=self.config.queue, records=len(records))

        task = asyncio.create_task(hand_back())
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    # -- handle ------------------------------------------------------------------------------

    def _start_batch(self, records: list[SqsRecord]) -> None:
        for record in records:
            self._hidden[record.message_id] = record
        task = asyncio.create_task(self._process(_Batch(records)))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _process(self, batch: _Batch) -> None:
        async def tracked(record: SqsRecord) -> None:
            try:
                await self._handle_one(record)
            except Exception:
                batch.finished.add(record.message_id)
                # Not renewed any more: SQS delivers it again when its visibility ends.
                self._hidden.pop(record.message_id, None)
                raise
            else:
                batch.finished.add(record.message_id)
                batch.succeeded.append(record)
            finally:
                self._release_slot(batch, record.message_id)

        try:
            outcome = await handle_batch(
                batch.records,
                tracked,
                concurrency=len(batch.records),
                queue=queue_label(self.config.queue),
                max_receive_count=self.max_receive_count,
            )
            self.stats.succeeded += len(outcome.succeeded)
            self.stats.failed += len(outcome.failed)
        finally:
            for message_id in list(batch.holding_slot):
                self._release_slot(batch, message_id)
            # Shielded: a drain that runs out of time still deletes what already succeeded.
            await asyncio.shield(self._settle(batch))

    def _release_slot(self, batch: _Batch, message_id: str) -> None:
        if message_id in batch.holding_slot:
            batch.holding_slot.discard(message_id)
            self._capacity.give_back(1)

    async def _settle(self, batch: _Batch) -> None:
        try:
            await self._delete(batch.succeeded)
            abandoned = batch.abandoned
            if abandoned:
                # Handed back at once, for another consumer, rather than after its visibility.
                await self._change_visibility(abandoned, 0)
        finally:
            for record in batch.records:
                self._hidden.pop(record.message_id, None)

    def _resolved_url(self) -> str:
        assert self.queue_url is not None, "the queue URL is resolved before any message arrives"
        return self.queue_url

    async def _delete(self, records: Sequence[SqsRecord]) -> None:
        # Awaited first: `x += await ...` reads x before the await, so two batches deleting at
        # once would lose one's count.
        confirmed = await delete_batch(self._sqs, self._resolved_url(), records)
        self.stats.deleted += confirmed

    # -- visibility --------------------------------------------------------------------------

    async def _extend_visibility_forever(self) -> None:
        interval = self.config.extend_every or max(self.visibility_timeout / 3, 0.5)
        while True:
            await asyncio.sleep(interval)
            records = list(self._hidden.values())
            if records:
                await self._change_visibility(records, self.visibility_timeout)

    async def _change_visibility(self, records: Sequence[SqsRecord], seconds: int) -> None:
        # A record settled meanwhile (deleted, or handed back) has nothing left to change.
        await change_visibility(
            self._sqs,
            self._resolved_url(),
            records,
            seconds,
            still_held=lambda record: record.message_id in self._hidden,
        )

    async def _drain(self) -> None:
        batches = set(self._batches)
        if not batches:
            return
        log.info("consumer.draining", queue=self.config.queue, in_flight=len(self._hidden))
        started = time.monotonic()
        _, pending = await asyncio.wait(batches, timeout=self.config.drain_timeout)
        if pending:
            log.warning(
                "consumer.drain_timeout",
                queue=self.config.queue,
                abandoned=len(self._hidden),
                waited=round(time.monotonic() - started, 1),
            )
            await self._abandon(pending)

    async def _abandon(self, batches: set[asyncio.Task[None]]) -> None:
        for task in batches:
            task.cancel()
        await asyncio.gather(*batches, return_exceptions=True)

    # -- helpers -----------------------------------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up at once when stopped."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _stopped_first(self, work: asyncio.Future[Any]) -> bool:
        """Whether stop() came before `work` finished; the work goes on either way (it is
        cancelled only if this task is)."""
        stopped = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            work.cancel()
            raise
        finally:
            stopped.cancel()
            await asyncio.gather(stopped, return_exceptions=True)
        return not work.done()

    async def _unless_stopped(self, awaitable: Awaitable[T]) -> T:
        """The awaitable's result, or _Stopped if stop() came first (the work is cancelled).

        Work that finished anyway wins: messages already received are handled, not dropped.
        """
        work = asyncio.ensure_future(awaitable)
        if await self._stopped_first(work):
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
        if work.cancelled():
            raise _Stopped
        return work.result()


def _records(messages: list[dict[str, Any]]) -> list[SqsRecord]:
    records = []
    for message in messages:
        try:
            records.append(SqsRecord.from_boto3(message))
        except MalformedRecord:
            log.error("consumer.malformed_record")
    return records


def _as_fields(stats: PollerStats) -> dict[str, int]:
    return {
        "received": stats.received,
        "succeeded": stats.succeeded,
        "failed": stats.failed,
        "deleted": stats.deleted,
        "receive_errors": stats.receive_errors,
        "handed_back": stats.handed_back,
    }
