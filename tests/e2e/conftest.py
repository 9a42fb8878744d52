"""The pipeline fixtures: API, processor and worker in the test's event loop.

`pipeline` runs all three; `pipeline_without_worker` leaves the worker to the test (it calls
`pipeline.start_worker()`, or runs `python -m payments_worker` on `pipeline.task_queue`).
"""

from collections.abc import AsyncIterator

import pytest

from payments_core.db.engine import create_engine, create_session_factory
from payments_devstack.moto_server import MotoServer
from tests.e2e.support import Pipeline, Sessions, running_pipeline
from tests.localstripe import localstripe_url

__all__ = ["localstripe_url"]


@pytest.fixture(scope="session")
async def e2e_sessions(database_url: str) -> AsyncIterator[Sessions]:
    """For assertions straight on the tables (payments, outbox, the sandbox ledger)."""
    engine = create_engine(database_url, pool_size=5)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def pipeline(
    database_url: str, moto_server: MotoServer, temporal_address: str, e2e_sessions: Sessions
) -> AsyncIterator[Pipeline]:
    async with running_pipeline(
        database_url, moto_server, temporal_address, e2e_sessions
    ) as running:
        yield running


@pytest.fixture
async def pipeline_without_worker(
    database_url: str, moto_server: MotoServer, temporal_address: str, e2e_sessions: Sessions
) -> AsyncIterator[Pipeline]:
    async with running_pipeline(
        database_url, moto_server, temporal_address, e2e_sessions, with_worker=False
    ) as running:
        yield running
