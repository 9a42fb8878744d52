"""Group commit for attempt results: one statement and one commit for every result that came in
while the previous batch was being written.

A result never waits for a timer: the first one starts a write at once, and those that arrive
meanwhile go in the next. Under load that is one round trip and one commit for many attempts
instead of one each, the largest part of what a delivery cost the sender in the database.
"""

import asyncio
import random
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.session import transaction
from payments_core.webhooks.attempt_records import (
    RecordedAttempt,
    delivery_gone,
    record_attempts,
)
from payments_core.webhooks.deliveries import AttemptResult, ClaimedDelivery

Waiting = tuple[ClaimedDelivery, AttemptResult, "asyncio.Future[RecordedAttempt]"]


class AttemptRecorder:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        schedule: Sequence[int],
        rng: random.Random | None = None,
        *,
        max_batch: int = 100,
    ) -> None:
        self._sessions = sessions
        self._schedule = schedule
        self._rng = rng
        self._max_batch = max_batch
        self._waiting: list[Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, claim: ClaimedDelivery, result: AttemptResult) -> RecordedAttempt:
        """Record one attempt (with whatever else is waiting); raises what the write raised."""
        future: asyncio.Future[RecordedAttempt] = asyncio.get_running_loop().create_future()
        # Retrieved even when the delivery task was cancelled meanwhile (no "never retrieved").
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._waiting.append((claim, result, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all(), name="webhook-recorder")
        # Shielded: a delivery task cancelled at shutdown still has its result written.
        return await asyncio.shield(future)

    async def idle(self) -> None:
        """Until every result handed over so far is written (before the engine is disposed)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                await self._write(self._next_batch())
        finally:
            self._writer = None

    def _next_batch(self) -> list[Waiting]:
        # A delivery's second result (a lost lease's late one beside the live claim's) waits for
        # the next batch: one statement updates each row once.
        batch: list[Waiting] = []
        later: list[Waiting] = []
        seen: set[uuid.UUID] = set()
        for waiting in self._waiting:
            delivery_id = waiting[0].delivery_id
            if len(batch) < self._max_batch and delivery_id not in seen:
                seen.add(delivery_id)
                batch.append(waiting)
            else:
                later.append(waiting)
        self._waiting = later
        return batch

    async def _write(self, batch: list[Waiting]) -> None:
        try:
            async with transaction(self._sessions) as session:
                recorded = await record_attempts(
                    session, [(claim, result) for claim, result, _ in batch], self._schedule,
                    self._rng,
                )  # fmt: skip
        except Exception as error:  # each waiting delivery fails as its own write would have
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (claim, _, future), outcome in zip(batch, recorded, strict=True):
            if future.done():
                continue
            if outcome is None:
                future.set_exception(delivery_gone(claim))
            else:
                future.set_result(outcome)
