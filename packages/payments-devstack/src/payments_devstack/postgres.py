"""PostgreSQL 16 from the `pgserver` wheel, listening on TCP, as a child process we own.

`pgserver.get_server` only offers a unix socket and runs the server detached; the API, the
workers and asyncpg in tests need a TCP URL, and `make up` needs Ctrl-C to stop the server.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

from payments_devstack.errors import DevstackError
from payments_devstack.processes import (
    ServiceSpec,
    Supervisor,
    wait_until,
)
from payments_devstack.server import InfrastructureServer

# Postgres refuses to run as root; pgserver uses this unprivileged user for the same reason.
SYSTEM_USER = "pgserver"
SUPERUSER = "postgres"
READY_TIMEOUT_SECONDS = 60.0
# sun_path is 108 bytes on Linux, 104 on macOS.
MAX_SOCKET_PATH = 100
# SIGINT is postgres' "fast" shutdown (pg_ctl stop -m fast): roll back clients and exit.
FAST_SHUTDOWN = signal.SIGINT
SAFE_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# How long the processes of a crashed server may take to disappear once SIGKILLed.
CRASH_REAP_TIMEOUT_SECONDS = 10.0


def _bin_dir() -> Path:
    # Importing pgserver computes a runtime dir we never use and warns when XDG_RUNTIME_DIR
    # is unset (CI, root shells); the first import here keeps that noise out of every run.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH

    path: Path = POSTGRES_BIN_PATH
    return path


class EmbeddedPostgres(InfrastructureServer):
    """`initdb` once, then `postgres -h 127.0.0.1 -p <port>`; the data survives restarts."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        fsync: bool = True,
        database: str = "payments",
        log_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.data_dir = data_dir.resolve()
        self.port = port
        # fsync=False is for throwaway test clusters only: a crash can corrupt the data.
        self.fsync = fsync
        if not SAFE_DATABASE_NAME.fullmatch(database):
            raise DevstackError(f"postgres: database name {database!r} must match [a-z_][a-z0-9_]*")
        self.database = database
        self.log_file = log_file or self.data_dir.parent / "logs" / "postgres.log"
        self.bin_dir = _bin_dir()
        self.system_user = SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def database_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    def crash_and_restart(self, supervisor: Supervisor, *, down_seconds: float = 0.0) -> None:
        """SIGKILL the postmaster and every process it started, as an OOM kill of the pod or a
        lost node would, then start again on the same data directory: nothing was flushed or
        checkpointed on the way down, so PostgreSQL replays its WAL (crash recovery).

        Each backend and auxiliary process calls setsid(), so killing the postmaster's group
        kills the postmaster alone; orphans it leaves behind keep the old shared memory
        attached, and a new postmaster refuses to start while they do ("pre-existing shared
        memory block is still in use"). So: stop the postmaster (it cannot fork while
        stopped), list its children, SIGKILL them all, and wait until every one is gone. The
        stale postmaster.pid left behind names a dead process, which PostgreSQL itself then
        removes, and the old shared memory, attached by nobody, is reclaimed."""
        if self._process is None:
            raise DevstackError("postgres: not running, nothing to crash")
        postmaster = self._process.popen.pid
        os.kill(postmaster, signal.SIGSTOP)
        children = _children(postmaster)
        supervisor.kill(self._process)
        for pid in children:
            _kill(pid)
        deadline = time.monotonic() + CRASH_REAP_TIMEOUT_SECONDS
        while (alive := [pid for pid in children if _exists(pid)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive:
            raise DevstackError(f"postgres: processes {alive} outlived SIGKILL")
        time.sleep(down_seconds)
        self.spawn(supervisor)
        self.wait_ready()

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        wait_until(self._accepts_queries, what="postgres", timeout=timeout, process=self._process)
        self._ensure_database()

    def _prepare(self) -> None:
        """Initialise the data dir if needed."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.system_user is not None:
            self._grant_system_user_access()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run_tool(
                "initdb",
                "-D",
                str(self.data_dir),
                "--auth=trust",
                f"--username={SUPERUSER}",
                "--encoding=utf8",
                # The C locale exists everywhere; a missing system locale would fail initdb.
                "--no-locale",
                "--no-instructions",
                *(() if self.fsync else ("--no-sync",)),
                as_system_user=True,
            )

    def _grant_system_user_access(self) -> None:
        """What pgserver does as root: a system user that can reach the binaries and the data."""
        import pwd

        from pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        assert self.system_user is not None
        ensure_user_exists(self.system_user)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(self.bin_dir)
        read = stat.S_IRGRP | stat.S_IROTH
        execute = stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(self.bin_dir, read | execute)
        ensure_folder_permissions(self.bin_dir.parent / "lib", read)
        entry = pwd.getpwnam(self.system_user)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)

    def _socket_dir(self) -> Path:
        """The data dir unless its path is too long for a unix socket name."""
        if len(str(self.data_dir / f".s.PGSQL.{self.port}")) <= MAX_SOCKET_PATH:
            return self.data_dir
        socket_dir = Path(tempfile.mkdtemp(prefix="pg-sock-"))
        if self.system_user is not None:
            import pwd

            entry = pwd.getpwnam(self.system_user)
            os.chown(socket_dir, entry.pw_uid, entry.pw_gid)
        return socket_dir

    def _spec(self) -> ServiceSpec:
        settings = ["max_connections=200"]
        if not self.fsync:
            settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        argv = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-h",
            "127.0.0.1",
            "-k",
            str(self._socket_dir()),
        ]
        for setting in settings:
            argv += ["-c", setting]
        return ServiceSpec(
            name="postgres",
            argv=argv,
            user=self.system_user,
            stop_signal=FAST_SHUTDOWN,
            log_file=self.log_file,
            echo=False,
        )

    def _accepts_queries(self) -> bool:
        result = subprocess.run(  # noqa: S603 - fixed argv
            self._client_args("pg_isready", "postgres"),
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def _ensure_database(self) -> None:
        exists = self._run_tool(
            *self._client_args("psql", "postgres"),
            "-tAc",
            # The name was checked against SAFE_DATABASE_NAME, so quoting it is enough.
            f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",  # noqa: S608
        )
        if exists.strip() != "1":
            self._run_tool(*self._client_args("createdb", None), self.database)

    def _client_args(self, tool: str, database: str | None) -> list[str]:
        args = [str(self.bin_dir / tool), "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER]
        if database is not None:
            args += ["-d", database]
        return args

    def _run_tool(self, tool: str, *args: str, as_system_user: bool = False) -> str:
        argv = [tool if os.sep in tool else str(self.bin_dir / tool), *args]
        result = subprocess.run(  # noqa: S603 - argv built from our own constants
            argv,
            capture_output=True,
            text=True,
            check=False,
            user=self.system_user if as_system_user else None,
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            last = detail[-1] if detail else f"exit code {result.returncode}"
            raise DevstackError(f"postgres: {Path(argv[0]).name} failed: {last}")
        return result.stdout


def _children(pid: int) -> list[int]:
    # pgrep is on Linux and macOS alike; found on PATH, like the system tools elsewhere here.
    pgrep = shutil.which("pgrep")
    if pgrep is None:
        raise DevstackError("postgres: pgrep is needed to find the postmaster's processes")
    listed = subprocess.run(  # noqa: S603 - fixed argv
        [pgrep, "-P", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(line) for line in listed.stdout.split()]


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _exists(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone: it holds no shared memory)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:  # gone meanwhile, or no /proc (macOS): kill(0) answered
        return Path("/proc").is_dir() is False
    return ") Z " not in state
