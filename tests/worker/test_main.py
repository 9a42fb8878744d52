"""`python -m payments_worker` as `make up` runs it: configuration errors, health, a payment
driven end to end by the real process, and a clean exit on SIGTERM."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from temporalio.client import Client

from payments_core.gateway.sandbox import SandboxConnector
from payments_devstack.processes import find_free_port
from payments_worker.payloads import PaymentOutcome
from tests.api.support import WEBHOOK_ENCRYPTION_KEY
from tests.worker.support import SUCCEEDING_CARDS, Sessions, card_payment, run_payment

STARTUP_TIMEOUT_SECONDS = 30


def worker_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("TEMPORAL_", "DATABASE_", "SANDBOX_", "SWEEPER_", "HEALTH_", "CONNECTOR_", "WEBHOOK_")
        )
    }
    env.update(LOG_FORMAT="console", WEBHOOK_ENCRYPTION_KEY=WEBHOOK_ENCRYPTION_KEY, **overrides)
    return env


def test_missing_temporal_address_exits_with_one_line(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "payments_worker"],
        env=worker_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: TEMPORAL_ADDRESS is required but not set"
    ]


def test_without_a_key_for_connector_credentials_it_exits_naming_it(database_url: str) -> None:
    env = worker_env(DATABASE_URL=database_url, TEMPORAL_ADDRESS="127.0.0.1:1")
    del env["WEBHOOK_ENCRYPTION_KEY"]
    result = subprocess.run(
        [sys.executable, "-m", "payments_worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("configuration error: ")
    assert "CONNECTOR_ENCRYPTION_KEY" in line, line


async def health_status(port: int) -> int | None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    writer.write(b"GET /health HTTP/1.1\r\n\r\n")
    response = await reader.read()
    writer.close()
    return int(response.split()[1]) if response else None


async def test_worker_process_processes_payments_and_stops_on_sigterm(
    database_url: str,
    temporal_address: str,
    tmp_path: Path,
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    merchant_id: uuid.UUID,
) -> None:
    task_queue = f"worker-process-{uuid.uuid4().hex}"
    health_port = find_free_port()
    # A file, not a pipe: a pipe nobody reads fills up and blocks the worker's logging.
    log_path = tmp_path / "worker.log"
    log_file = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "payments_worker",
        env=worker_env(
            DATABASE_URL=database_url,
            TEMPORAL_ADDRESS=temporal_address,
            TEMPORAL_TASK_QUEUE=task_queue,
            HEALTH_PORT=str(health_port),
        ),
        stdout=log_file,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
            while await health_status(health_port) != 200:
                assert process.returncode is None, "the worker exited during start"
                await asyncio.sleep(0.1)

        payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
        assert await run_payment(client, task_queue, payment_id) == PaymentOutcome("completed")

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log_file.close()

    log = log_path.read_text()
    assert process.returncode == 0, log[-2000:]
    assert "worker.stopped" in log
