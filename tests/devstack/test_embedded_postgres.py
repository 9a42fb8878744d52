"""The embedded PostgreSQL starts from the wheel, takes TCP connections and keeps its data."""

import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from payments_devstack.postgres import EmbeddedPostgres
from payments_devstack.processes import Supervisor, find_free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    # Under /tmp rather than tmp_path: the unprivileged postgres user must traverse the prefix.
    directory = Path(tempfile.mkdtemp(prefix="devstack-pg-test-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


async def test_a_restart_on_the_same_data_dir_keeps_the_data(scratch_dir: Path) -> None:
    data_dir = scratch_dir / "data"
    with EmbeddedPostgres(data_dir, find_free_port(), fsync=False) as first:
        assert first.database_url.startswith("postgresql://postgres@127.0.0.1:")
        assert first.database_url.endswith("/payments")
        connection = await asyncpg.connect(first.database_url)
        try:
            await connection.execute("CREATE TABLE kept (value text)")
            await connection.execute("INSERT INTO kept VALUES ('still here')")
        finally:
            await connection.close()

    # A different port on purpose: nothing about the first run may be cached but the data dir.
    with EmbeddedPostgres(data_dir, find_free_port(), fsync=False) as second:
        connection = await asyncpg.connect(second.database_url)
        try:
            assert await connection.fetchval("SELECT value FROM kept") == "still here"
            assert await connection.fetchval("SHOW server_version") == "16.2"
        finally:
            await connection.close()


def test_stop_is_a_clean_fast_shutdown(scratch_dir: Path) -> None:
    postgres = EmbeddedPostgres(scratch_dir / "data", find_free_port(), fsync=False)
    log_file = postgres.log_file
    with postgres:
        pass
    log = log_file.read_text()
    assert "received fast shutdown request" in log
    assert "database system is shut down" in log
    # No postmaster left behind: its pid file goes away with a clean shutdown.
    assert not (scratch_dir / "data" / "postmaster.pid").exists()


def test_a_crash_loses_no_committed_row_and_leaves_no_process(scratch_dir: Path) -> None:
    """SIGKILL of the postmaster and all its processes, then crash recovery on the same data
    (what chaos does): committed rows survive, and a backend busy in a query does not keep the
    old shared memory alive. Processes start on the main thread (`processes._die_with_parent`)."""
    supervisor = Supervisor()
    postgres = EmbeddedPostgres(scratch_dir / "data", find_free_port())
    busy_error: list[BaseException] = []

    async def busy() -> None:
        connection = await asyncpg.connect(postgres.database_url)
        try:
            await connection.execute("SELECT pg_sleep(60)")
        except (asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError) as error:
            busy_error.append(error)
        finally:
            connection.terminate()

    try:
        postgres.start(supervisor)
        asyncio.run(_execute(postgres.database_url, "CREATE TABLE kept (value text)"))
        asyncio.run(_execute(postgres.database_url, "INSERT INTO kept VALUES ('committed')"))
        in_query = threading.Thread(target=asyncio.run, args=(busy(),))
        in_query.start()
        time.sleep(0.5)
        old_postmaster = postgres.pid

        postgres.crash_and_restart(supervisor)

        in_query.join(timeout=10)
        assert busy_error, "the query in flight should have lost its connection"
        assert postgres.pid != old_postmaster
        kept = asyncio.run(_fetchval(postgres.database_url, "SELECT value FROM kept"))
        assert kept == "committed"
    finally:
        supervisor.stop_all()
    log = postgres.log_file.read_text()
    assert "database system was not properly shut down; automatic recovery in progress" in log


async def _execute(database_url: str, sql: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _fetchval(database_url: str, sql: str) -> object:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()
