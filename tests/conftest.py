"""Session-wide real infrastructure: PostgreSQL, the AWS emulator and Temporal, started once.

Each is started only when a test asks for it, on a free port, so parallel runs and a running
`make up` do not collide. Set TEST_DATABASE_URL to test against an existing database instead.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from payments_core.migrations.runner import upgrade
from payments_devstack.moto_server import MotoServer
from payments_devstack.postgres import EmbeddedPostgres
from payments_devstack.processes import find_free_port
from payments_devstack.temporal import TemporalDevServer
from tests.tracing.recording import recorded_spans  # noqa: F401 - a fixture for every test


@pytest.fixture(scope="session")
def infrastructure_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: that lives under a 0700 directory the unprivileged postgres user
    # (we run as root in CI) cannot traverse, and pytest resets its mode every session.
    directory = Path(tempfile.mkdtemp(prefix="payments-tests-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _migrate_to_head(database_url: str) -> None:
    # Alembic's env runs asyncio.run(); a worker thread is safe even inside a running loop.
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(upgrade, database_url).result()


@pytest.fixture(scope="session")
def database_url(infrastructure_dir: Path) -> Iterator[str]:
    """A migrated database: TEST_DATABASE_URL if set, else a throwaway embedded PostgreSQL."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        _migrate_to_head(external)
        yield external
        return
    postgres = EmbeddedPostgres(
        infrastructure_dir / "postgres",
        find_free_port(),
        # Durability is pointless for a cluster deleted after the run; fsync=off is much faster.
        fsync=False,
        log_file=infrastructure_dir / "postgres.log",
    )
    with postgres:
        _migrate_to_head(postgres.database_url)
        yield postgres.database_url


@pytest.fixture(scope="session")
def aws_test_credentials() -> Iterator[None]:
    """Dummy credentials for the whole session, so no test can reach a real AWS account."""
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    patch.delenv("AWS_PROFILE", raising=False)
    patch.delenv("AWS_SESSION_TOKEN", raising=False)
    yield
    patch.undo()


@pytest.fixture(scope="session")
def moto_server(aws_test_credentials: None, infrastructure_dir: Path) -> Iterator[MotoServer]:
    """The emulator itself, for `reset()` between tests that must not see each other's data."""
    with MotoServer(find_free_port(), log_file=infrastructure_dir / "moto.log") as server:
        yield server


@pytest.fixture(scope="session")
def moto_endpoint(moto_server: MotoServer) -> str:
    return moto_server.endpoint_url


@pytest.fixture(scope="session")
def temporal_address(infrastructure_dir: Path) -> Iterator[str]:
    """A headless Temporal dev server; `host:port` for `Client.connect`."""
    server = TemporalDevServer(
        infrastructure_dir / "temporal.db",
        port=find_free_port(),
        ui_port=None,
        log_file=infrastructure_dir / "temporal.log",
    )
    with server:
        yield server.address
