"""The outbox relay: publishes committed outbox rows to SNS, at least once, and marks them.

Claim, publish and mark happen in one transaction holding the rows' locks, committed only after
SNS answered. A crash before the commit leaves the rows unpublished and they go out again (the
event id lets consumers dedupe); no row is ever marked without a confirmed publish. Several
relays share the work through `FOR UPDATE SKIP LOCKED`.

Under a stream of events the relay pauses briefly (`gather_seconds`) after each batch that
published something, so the next claim takes the rows committed meanwhile in one batch: without
it nearly every event's NOTIFY woke a claim of its one row, and each batch costs a transaction
and a PublishBatch call whatever its size (README "Performance"). An event that arrives while
the relay is idle goes out at once; one that arrives during a stream waits at most the pause
longer. A backlog is drained without pauses: a full batch is followed by the next claim at once.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.aws.clients import AwsClient
from payments_core.db.session import transaction
from payments_core.outbox import repository
from payments_core.outbox.backoff import retry_delay
from payments_core.outbox.notifications import NotificationListener
from payments_core.outbox.repository import Backlog, FailedPublish, PendingMessage
from payments_core.outbox.sns_publisher import PublishOutcome, SnsBatchPublisher
from payments_core.telemetry.metrics import OUTBOX_PUBLISHED

log = structlog.get_logger(__name__)

DEFAULT_BATCH_SIZE = 100
DEFAULT_POLL_INTERVAL_SECONDS = 1.0
DEFAULT_GATHER_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class BatchResult:
    claimed: int
    published: int
    failed: int


class OutboxRelay:
    """Runs until stopped; wakes on NOTIFY `outbox_new` and polls as a safety net.

    `listen_dsn` is a plain asyncpg DSN (`asyncpg_dsn(settings.database_url)`); without one the
    relay only polls.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        sns_client: AwsClient,
        topic_arn: str,
        *,
        listen_dsn: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS,
        gather_seconds: float = DEFAULT_GATHER_SECONDS,
    ) -> None:
        self._sessions = session_factory
        self._publisher = SnsBatchPublisher(sns_client, topic_arn)
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._gather_seconds = gather_seconds
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._running: asyncio.Event | None = None
        self.listener = (
            NotificationListener(listen_dsn, self._wake.set) if listen_dsn is not None else None
        )

    async def run(self) -> None:
        """Relay until `stop()`; exceptions are logged and retried, never raised."""
        self._stopped.clear()
        self._running = done = asyncio.Event()
        listener_task = self._start_listener()
        try:
            await self._loop()
        finally:
            if listener_task is not None:
                listener_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener_task
            done.set()

    async def stop(self) -> None:
        """Ask `run()` to return after the batch in flight is committed, and wait for it."""
        self._stopped.set()
        self._wake.set()
        if self._running is not None:
            await self._running.wait()

    async def publish_pending_once(self) -> int:
        """Relay one batch of due rows; returns how many were published."""
        return (await self._relay_batch()).published

    async def backlog(self) -> Backlog:
        async with transaction(self._sessions) as session:
            return await repository.backlog(session)

    def _start_listener(self) -> "asyncio.Task[None] | None":
        if self.listener is None:
            return None
        return asyncio.create_task(self.listener.run(), name="outbox-relay-listener")

    async def _loop(self) -> None:
        consecutive_errors = 0
        while not self._stopped.is_set():
            # Cleared before the claim: a NOTIFY arriving during the batch triggers another one.
            self._wake.clear()
            try:
                result = await self._relay_batch()
            except Exception as error:
                consecutive_errors += 1
                log.warning(
                    "outbox.relay_failed",
                    error=f"{type(error).__name__}: {error}",
                    consecutive_errors=consecutive_errors,
                )
                await self._sleep(retry_delay(consecutive_errors))
                continue
            consecutive_errors = 0
            if result.claimed == self._batch_size and result.failed == 0:
                continue  # more may be waiting
            if result.published:
                await self._gather()
            await self._sleep(self._poll_interval)

    async def _gather(self) -> None:
        """Let the rows of a stream collect for one batch: NOTIFYs arriving meanwhile leave
        `_wake` set, so the claim follows the pause at once; only `stop()` cuts it short."""
        if self._gather_seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), self._gather_seconds)

    async def _sleep(self, seconds: float) -> None:
        """Wait for a NOTIFY, a stop, or the time to pass."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _relay_batch(self) -> BatchResult:
        async with transaction(self._sessions) as session:
            pending = await repository.claim_due(session, self._batch_size)
            if not pending:
                return BatchResult(0, 0, 0)
            outcome = await self._publisher.publish(pending)
            failures = _failures(pending, outcome)
            await repository.mark_published(session, outcome.published)
            await repository.mark_failed(session, failures)
        OUTBOX_PUBLISHED.labels(outcome="published").inc(len(outcome.published))
        OUTBOX_PUBLISHED.labels(outcome="failed").inc(len(failures))
        _log_failures(pending, failures)
        return BatchResult(len(pending), len(outcome.published), len(failures))


def _failures(pending: list[PendingMessage], outcome: PublishOutcome) -> list[FailedPublish]:
    return [
        FailedPublish(
            id=message.id,
            error=outcome.failed[message.id],
            retry_in=timedelta(seconds=retry_delay(message.attempts + 1)),
        )
        for message in pending
        if message.id in outcome.failed
    ]


def _log_failures(pending: list[PendingMessage], failures: list[FailedPublish]) -> None:
    """One line per distinct error, naming ids and types but never payload contents."""
    if not failures:
        return
    by_error: dict[str, list[FailedPublish]] = {}
    for failure in failures:
        by_error.setdefault(failure.error, []).append(failure)
    types = {message.id: message.event_type for message in pending}
    for error, group in by_error.items():
        log.warning(
            "outbox.publish_failed",
            error=error,
            count=len(group),
            event_ids=[failure.id for failure in group[:10]],
            event_types=sorted({types[failure.id] for failure in group}),
            retry_in_seconds=round(min(failure.retry_in.total_seconds() for failure in group), 2),
        )
