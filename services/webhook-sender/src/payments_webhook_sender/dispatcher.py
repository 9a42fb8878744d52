"""Sends due deliveries: claims them from the due-time table and runs each as its own task.

At most `webhook_concurrency` attempts are in flight, and at most `webhook_endpoint_concurrency`
to any one endpoint, so an endpoint that takes the full timeout to answer holds a few slots and
the other merchants' deliveries go on. Retries wait in the table (not in SQS), so a schedule of
hours costs nothing while it waits and survives restarts.
"""

import asyncio
import random
import uuid
from collections import Counter
from contextlib import suppress

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.session import transaction
from payments_core.events.envelope import envelope_json
from payments_core.settings import WebhookSenderSettings
from payments_core.telemetry.metrics import (
    WEBHOOK_ATTEMPTS_IN_FLIGHT,
    WEBHOOK_DELIVERIES_ENDED,
    WEBHOOK_SENDER_ONLY,
    register_once,
)
from payments_core.webhooks.attempt import attempt_delivery
from payments_core.webhooks.attempt_span import attempt_span, record_result
from payments_core.webhooks.connections import PinnedConnections
from payments_core.webhooks.deliveries import (
    ClaimedDelivery,
    abandon,
    claim_due,
)
from payments_core.webhooks.endpoints import live_secrets
from payments_core.webhooks.secret_box import SecretBox
from payments_webhook_sender.recorder import AttemptRecorder

log = structlog.get_logger("payments_webhook_sender")

register_once(*WEBHOOK_SENDER_ONLY)

# A claim lasts past the attempt's timeout; if the sender dies, the delivery is due again then.
LEASE_MARGIN_SECONDS = 30.0
ERROR_BACKOFF_SECONDS = 2.0


class DeliveryDispatcher:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        settings: WebhookSenderSettings,
        connections: PinnedConnections,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = session_factory
        self._settings = settings
        self._connections = connections
        self._box = SecretBox(settings.webhook_encryption_key)
        self._recorder = AttemptRecorder(session_factory, settings.webhook_retry_schedule, rng)
        self._in_flight: dict[asyncio.Task[None], uuid.UUID] = {}
        self._per_endpoint: Counter[uuid.UUID] = Counter()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.running = False

    @property
    def lease_seconds(self) -> float:
        return self._settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS

    def wake(self) -> None:
        """New deliveries are due now: claim them without waiting for the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self, drain_seconds: float) -> None:
        self.running = True
        try:
            while not self._stopping.is_set():
                try:
                    await self.dispatch_once()
                except Exception:
                    log.warning("webhooks.claim_failed", exc_info=True)
                    await self._sleep(ERROR_BACKOFF_SECONDS)
                    continue
                await self._sleep(self._settings.webhook_poll_seconds)
        finally:
            self.running = False
            await self._drain(drain_seconds)
            await self._recorder.idle()

    async def run_until_idle(self, budget_seconds: float) -> None:
        """Send what is due until nothing is, or the budget is spent (a Lambda invocation)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget_seconds
        while loop.time() < deadline:
            claimed = await self.dispatch_once()
            if not claimed and not self._in_flight:
                await self._recorder.idle()
                return
            await self._sleep(max(0.0, min(1.0, deadline - loop.time())))
        await self._drain(0)
        await self._recorder.idle()

    async def _sleep(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def dispatch_once(self) -> int:
        """Claim what is due, up to the free slots, and start sending it; returns how many."""
        free = self._settings.webhook_concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        async with transaction(self._sessions) as session:
            claims = await claim_due(
                session,
                limit=free,
                per_endpoint=self._settings.webhook_endpoint_concurrency,
                # Counts, not just the endpoints at their cap: see deliveries._CLAIM.
                in_flight=dict(self._per_endpoint),
                lease_seconds=self.lease_seconds,
            )
        for claim in claims:
            task = asyncio.create_task(self.deliver(claim), name=f"webhook-{claim.delivery_id}")
            self._in_flight[task] = claim.endpoint_id
            self._per_endpoint[claim.endpoint_id] += 1
            WEBHOOK_ATTEMPTS_IN_FLIGHT.inc()
            task.add_done_callback(self._done)
        return len(claims)

    def _done(self, task: asyncio.Task[None]) -> None:
        endpoint = self._in_flight.pop(task)
        WEBHOOK_ATTEMPTS_IN_FLIGHT.dec()
        self._per_endpoint[endpoint] -= 1
        if self._per_endpoint[endpoint] <= 0:
            del self._per_endpoint[endpoint]
        self._wake.set()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            log.error("webhooks.delivery_crashed", exc_info=task.exception())

    async def deliver(self, claim: ClaimedDelivery) -> None:
        """One attempt of a claimed delivery, recorded; failures of our own (the database, a
        secret that does not open) leave the claim to expire and be tried again."""
        if not claim.endpoint_usable:
            async with transaction(self._sessions) as session:
                await abandon(session, claim, "endpoint disabled")
            WEBHOOK_DELIVERIES_ENDED.labels(status="failed").inc()
            return
        try:
            secrets = live_secrets(
                claim.endpoint_id,
                claim.secret_sealed,
                claim.previous_secret_sealed,
                claim.previous_secret_expires_at,
                box=self._box,
            )
        except ValueError as error:
            log.error("webhooks.secret_unavailable", endpoint_id=str(claim.endpoint_id),
                      error=str(error))  # fmt: skip
            return
        with attempt_span(claim) as span:
            result = await attempt_delivery(
                self._connections,
                url=claim.url,
                event_id=claim.event_id,
                body=envelope_json(claim.payload).encode(),
                secrets=secrets,
                allow_private=self._settings.webhook_allow_private_urls,
                timeout_seconds=self._settings.webhook_timeout_seconds,
            )
            record_result(span, result)
        recorded = await self._recorder.record(claim, result)
        status, next_at = recorded.status, recorded.next_attempt_at
        if status != "pending":
            WEBHOOK_DELIVERIES_ENDED.labels(status=status).inc()
        log.info(
            "webhooks.attempt",
            event_id=claim.event_id,
            endpoint_id=str(claim.endpoint_id),
            attempt=recorded.attempt_count,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            error=result.error,
            delivery_status=status,
            next_attempt_at=next_at.isoformat() if next_at and status == "pending" else None,
        )

    async def _drain(self, drain_seconds: float) -> None:
        """Let attempts in flight finish and be recorded; the rest come back when leases end."""
        tasks = list(self._in_flight)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=drain_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
