"""The sandbox connector against the session's real, migrated PostgreSQL."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.engine import create_engine, create_session_factory
from payments_core.gateway.sandbox import SandboxConnector
from tests.core.gateway.sandbox_support import Payment

# Short enough to keep the suite fast, long enough to measure as a lower bound.
ANSWER_TIMEOUT_SECONDS = 0.05


@pytest.fixture(scope="session")
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=10)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def sandbox(sessions: async_sessionmaker[AsyncSession]) -> SandboxConnector:
    return SandboxConnector(sessions, answer_timeout_seconds=ANSWER_TIMEOUT_SECONDS)


@pytest.fixture
def payment() -> Payment:
    return Payment()
