"""The webhook sender against real PostgreSQL, a real local HTTP receiver and, for the service,
real moto. Each test starts from a table with no pending deliveries, because a dispatcher claims
due deliveries of every merchant."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.engine import create_engine, create_session_factory
from payments_core.webhooks.attempt import new_connections
from payments_webhook_sender.dispatcher import DeliveryDispatcher
from tests.core.consumer.conftest import aws, logs, sqs, topology  # noqa: F401 - fixtures
from tests.webhooks.support import (
    Receiver,
    create_merchant,
    end_pending_deliveries,
    sender_settings,
)

StartDispatcher = Callable[..., Awaitable[DeliveryDispatcher]]


@pytest.fixture(scope="session")
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=10)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture(autouse=True)
async def no_pending_deliveries(sessions: async_sessionmaker[AsyncSession]) -> None:
    await end_pending_deliveries(sessions)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
async def merchant_id(sessions: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    return await create_merchant(sessions)


@pytest.fixture
async def start_dispatcher(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> AsyncIterator[StartDispatcher]:
    """`await start_dispatcher(webhook_retry_schedule=(1,), ...)`: a running dispatcher with
    the test settings plus the overrides; stopped (attempts in flight cancelled) at the end."""
    running: list[tuple[DeliveryDispatcher, asyncio.Task[None]]] = []
    pools = []

    async def start(**overrides: Any) -> DeliveryDispatcher:
        settings = sender_settings(database_url, **overrides)
        connections = new_connections(settings.webhook_concurrency)
        pools.append(connections)
        dispatcher = DeliveryDispatcher(sessions, settings, connections)
        task = asyncio.create_task(dispatcher.run(drain_seconds=0.1))
        running.append((dispatcher, task))
        return dispatcher

    yield start
    for dispatcher, task in running:
        dispatcher.stop()
        await asyncio.wait_for(task, timeout=10)
    for connections in pools:
        await connections.aclose()
