"""statement_timeout and lock_timeout are in force on every connection of a bounded engine, on
the session's path and the driver connection's, and their errors are recognised as timeouts."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_core.db.bounds import COMMAND_TIMEOUT_MARGIN_SECONDS, StatementBounds, timed_out
from payments_core.db.driver import driver_connection
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.db.session import transaction

BOUNDS = StatementBounds(statement_timeout_seconds=0.5, lock_timeout_seconds=0.25)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    database_engine = create_engine(database_url, pool_size=1, bounds=BOUNDS)
    yield database_engine
    await database_engine.dispose()


async def test_the_bounds_are_set_on_the_sessions_and_the_driver_connections(
    engine: AsyncEngine,
) -> None:
    async with transaction(create_session_factory(engine)) as session:
        statement = (await session.execute(text("SHOW statement_timeout"))).scalar_one()
        lock = (await session.execute(text("SHOW lock_timeout"))).scalar_one()
    assert (statement, lock) == ("500ms", "250ms")
    async with driver_connection(engine) as connection:
        assert await connection.fetchval("SHOW statement_timeout") == "500ms"
        # asyncpg's own bound, behind the server's.
        command_timeout = connection._config.command_timeout  # type: ignore[attr-defined]
        assert command_timeout == 0.5 + COMMAND_TIMEOUT_MARGIN_SECONDS


async def test_a_statement_past_the_timeout_is_cancelled_by_the_server(
    engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(engine)
    with pytest.raises(Exception) as on_session:  # noqa: PT011 - SQLAlchemy's wrapper
        async with transaction(sessions) as session:
            await session.execute(text("SELECT pg_sleep(2)"))
    assert timed_out(on_session.value)
    async with driver_connection(engine) as connection:
        with pytest.raises(Exception) as on_driver:  # noqa: PT011
            await connection.execute("SELECT pg_sleep(2)")
        assert timed_out(on_driver.value)
        assert await connection.fetchval("SELECT 1") == 1  # the connection is still usable


async def test_migrations_and_tools_connect_unbounded(database_url: str) -> None:
    unbounded = create_engine(database_url, pool_size=1)
    try:
        async with unbounded.connect() as connection:
            assert (await connection.execute(text("SHOW statement_timeout"))).scalar_one() == "0"
    finally:
        await unbounded.dispose()


def test_other_errors_are_not_timeouts() -> None:
    assert not timed_out(ValueError("no"))
    assert not timed_out(RuntimeError("wrapped"))
