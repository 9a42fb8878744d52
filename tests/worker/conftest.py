"""Worker tests: the real Temporal dev server, real PostgreSQL and the real sandbox connector.

Each test gets a task queue of its own and a worker polling it, shut down when the test ends, so
no Temporal thread outlives the event loop (which would make pytest's exit status lie).
"""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from payments_core.db.engine import create_engine, create_session_factory
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.telemetry.temporal import temporal_metrics
from payments_worker.activities import PaymentActivities
from payments_worker.worker import build_worker
from tests.worker.support import ANSWER_TIMEOUT, create_merchant


@pytest.fixture(scope="session")
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=10)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
async def client(temporal_address: str) -> Client:
    # The runtime the worker process uses: the SDK's metrics land in the default registry.
    return await Client.connect(temporal_address, runtime=temporal_metrics().runtime)


@pytest.fixture
def sandbox(sessions: async_sessionmaker[AsyncSession]) -> SandboxConnector:
    return SandboxConnector(sessions, answer_timeout_seconds=ANSWER_TIMEOUT.total_seconds())


@pytest.fixture
def task_queue() -> str:
    return f"worker-test-{uuid.uuid4().hex}"


@pytest.fixture
def activities(
    sessions: async_sessionmaker[AsyncSession], sandbox: SandboxConnector
) -> PaymentActivities:
    return PaymentActivities(sessions, sandbox, gateway_call_timeout=timedelta(seconds=3))


@pytest.fixture
async def worker(
    client: Client, task_queue: str, activities: PaymentActivities
) -> AsyncIterator[Worker]:
    async with build_worker(client, task_queue, activities) as running:
        yield running


@pytest.fixture
async def merchant_id(sessions: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    return await create_merchant(sessions)
