"""Our PostgreSQL going away under a gateway activity does not change the payment's outcome.

The worker here reaches the real PostgreSQL through a relay the test cuts, with the real
Temporal dev server: the card that never answers must end gateway_timeout even when its last
authorization attempt meets the outage (before the fix it ended processing_error, the
workflow naming the failureReason after the database error of that last attempt).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from temporalio.client import Client, WorkflowHandle

from payments_core.db.engine import create_engine, create_session_factory
from payments_core.gateway.sandbox import SandboxConnector
from payments_worker.activities import PaymentActivities
from payments_worker.database_outage import database_unreachable
from payments_worker.policies import AUTHORIZE_RETRY
from payments_worker.worker import build_worker
from tests.worker.outage import DatabaseRelay
from tests.worker.support import (
    ANSWER_TIMEOUT,
    TIMEOUT_CARD,
    Sessions,
    card_payment,
    ledger,
    payment_row,
    result_of,
    start_payment,
)

# Longer than the backoff before the last authorization attempt (800 ms), so that attempt
# starts while the database is away however late the test notices the retry.
OUTAGE_SECONDS = 1.5
POLL_SECONDS = 0.05


@pytest.fixture
async def relay(database_url: str) -> AsyncIterator[DatabaseRelay]:
    relay = DatabaseRelay(database_url)
    await relay.start()
    yield relay
    await relay.stop()


async def _authorize_attempt(handle: WorkflowHandle[Any, Any]) -> int:
    description = await handle.describe()
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name == "authorize":
            return int(pending.attempt)
    return 0


async def _last_authorize_attempt_scheduled(handle: WorkflowHandle[Any, Any]) -> None:
    async with asyncio.timeout(30):
        while True:
            if await _authorize_attempt(handle) >= AUTHORIZE_RETRY.maximum_attempts:
                return
            await asyncio.sleep(POLL_SECONDS)


async def test_last_authorization_attempt_meeting_an_outage_still_ends_gateway_timeout(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    merchant_id: uuid.UUID,
    relay: DatabaseRelay,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, TIMEOUT_CARD)
    # The worker under test, and the sandbox's ledger it writes, reach PostgreSQL via the relay.
    engine = create_engine(relay.database_url, pool_size=4)
    relayed = create_session_factory(engine)
    activities = PaymentActivities(
        relayed,
        SandboxConnector(relayed, answer_timeout_seconds=ANSWER_TIMEOUT.total_seconds()),
        gateway_call_timeout=timedelta(seconds=3),
    )
    task_queue = f"outage-{uuid.uuid4().hex}"
    try:
        with structlog.testing.capture_logs() as logs:
            async with build_worker(client, task_queue, activities):
                handle = await start_payment(client, task_queue, payment_id)
                await _last_authorize_attempt_scheduled(handle)
                await relay.cut()
                await asyncio.sleep(OUTAGE_SECONDS)
                await relay.start()
                outcome = await result_of(handle)
    finally:
        await engine.dispose()

    # The outage was met (not slept through after the last attempt had already ended).
    waits = [entry for entry in logs if entry["event"] == "worker.database_unreachable"]
    assert waits, [entry["event"] for entry in logs]
    assert (outcome.status, outcome.failure_reason) == ("failed", "gateway_timeout")
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.failure_reason) == ("failed", "gateway_timeout")
    # The hold the acquirer kept without answering is released.
    assert ("authorize", "approved") in await ledger(sessions, payment_id)
    assert ("void", "approved") in await ledger(sessions, payment_id)


async def test_unreachable_database_is_told_apart_from_its_answers(
    sessions: Sessions, database_url: str
) -> None:
    relay = DatabaseRelay(database_url)  # never started: nothing listens on its port
    engine = create_engine(relay.database_url, pool_size=1)
    try:
        with pytest.raises(ConnectionRefusedError) as refused:
            async with create_session_factory(engine)() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    with pytest.raises(DBAPIError) as answered:
        async with sessions() as session:
            await session.execute(text("SELECT 1 / 0"))

    assert database_unreachable(refused.value)
    assert not database_unreachable(answered.value)
    assert database_unreachable(asyncpg.CannotConnectNowError("the database system is starting up"))
