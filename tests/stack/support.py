"""The embedded stack exactly as `make up` runs it, as separate processes, for whole-system tests.

`running_devstack` starts `python -m payments_devstack up` in a scratch directory (its
`.data/` goes there), on free ports, against the test database, and yields once the stack prints
its summary. Extra environment (e.g. `OTEL_*`) reaches every service, as it would from a shell.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import col, select

from payments_core.connectors import service as connectors
from payments_core.connectors.models import Connector
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.db.session import transaction
from payments_devstack.processes import find_free_ports

READY_LINE = "The payment platform is running"
READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0
PORT_VARIABLES = (
    "API_PORT",
    "MOTO_PORT",
    "TEMPORAL_PORT",
    "TEMPORAL_UI_PORT",
    "WEBHOOK_RECEIVER_PORT",
    "WORKER_HEALTH_PORT",
    "PROCESSOR_HEALTH_PORT",
    "WEBHOOKS_HEALTH_PORT",
)


@dataclass
class DevStack:
    directory: Path
    ports: dict[str, int]
    output: list[str] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['API_PORT']}/api/v1"

    @property
    def metrics_urls(self) -> dict[str, str]:
        """Each service's /metrics, keyed by the service name `make up` prints."""
        return {
            "api": f"http://127.0.0.1:{self.ports['API_PORT']}/metrics",
            "worker": f"http://127.0.0.1:{self.ports['WORKER_HEALTH_PORT']}/metrics",
            "processor": f"http://127.0.0.1:{self.ports['PROCESSOR_HEALTH_PORT']}/metrics",
            "webhooks": f"http://127.0.0.1:{self.ports['WEBHOOKS_HEALTH_PORT']}/metrics",
        }

    @property
    def demo(self) -> dict[str, str]:
        """The seeded demo merchant: merchant_id, api_key, payment_method_id, webhook secret..."""
        loaded: dict[str, str] = json.loads((self.directory / ".data" / "demo.json").read_text())
        return loaded

    def lines_from(self, service: str) -> list[str]:
        """What one service printed, without the supervisor's `name |` prefix."""
        lines = []
        for line in self.output:
            label, bar, text = line.partition("|")
            if bar and label.strip() == service:
                lines.append(text.strip())
        return lines


@contextmanager
def running_devstack(
    directory: Path, database_url: str, extra_env: Mapping[str, str] | None = None
) -> Iterator[DevStack]:
    ports = dict(zip(PORT_VARIABLES, find_free_ports(len(PORT_VARIABLES)), strict=True))
    env = {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "DATABASE_URL": database_url,
        "NO_COLOR": "1",
        **(extra_env or {}),
    }
    stack = DevStack(directory, ports)
    process = subprocess.Popen(
        [sys.executable, "-m", "payments_devstack", "up"],
        cwd=directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stack.output.append(line.rstrip("\n"))
            if READY_LINE in line:
                ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not ready.wait(0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(stack.output[-40:])
                raise AssertionError(f"the dev stack did not come up:\n{tail}")
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        reader.join(timeout=5)


def retire_demo_stripe_connectors(directory: Path, database_url: str) -> None:
    """After a `STRIPE_FAKE=1` run: the demo merchant (whom other tests use on this database)
    keeps no Stripe connector, or its seeded card would no longer be routable."""
    state = directory / ".data" / "demo.json"
    if not state.exists():
        return
    merchant_id = uuid.UUID(json.loads(state.read_text())["merchant_id"])
    # Not in the caller's event loop (a test's may be running): a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as executor:
        retire = _retire_stripe_connectors(database_url, merchant_id)
        executor.submit(asyncio.run, retire).result()


async def _retire_stripe_connectors(database_url: str, merchant_id: uuid.UUID) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with transaction(create_session_factory(engine)) as session:
            statement = select(Connector).where(
                col(Connector.merchant_id) == merchant_id,
                col(Connector.type) == "stripe",
                col(Connector.deleted_at).is_(None),
            )
            for connector in (await session.execute(statement)).scalars().all():
                await connectors.delete(session, merchant_id, connector.id)
    finally:
        await engine.dispose()
