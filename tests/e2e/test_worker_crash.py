"""The real worker process killed (SIGKILL) between authorize and capture: a second worker
finishes the payment, and the acquirer saw one authorization and one capture, never two."""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

import pytest

from payments_core.gateway.sandbox.entries import Operation, Outcome
from payments_devstack.processes import find_free_port
from tests.e2e.support import SUCCEEDING_CARDS, Pipeline, eventually, worker_process_env

STARTUP_TIMEOUT_SECONDS = 30
# Every gateway call waits this long: the capture is in flight long enough to be killed.
SANDBOX_LATENCY_MS = 1500
# A killed capture is retried after its start-to-close timeout: 2 x latency + this + 3 s.
GATEWAY_TIMEOUT_SECONDS = 0.5


async def _health_status(port: int) -> int | None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        response = await reader.read()
    finally:
        writer.close()
    return int(response.split()[1]) if response else None


StartWorker = Callable[[str], Awaitable[asyncio.subprocess.Process]]


@asynccontextmanager
async def worker_processes(pipeline: Pipeline, log_dir: Path) -> AsyncIterator[StartWorker]:
    """`start(name)` runs one `python -m payments_worker` on the pipeline's task queue and
    waits until it is healthy; every process still alive is killed on the way out."""
    processes: list[asyncio.subprocess.Process] = []
    logs: list[BinaryIO] = []

    async def start(name: str) -> asyncio.subprocess.Process:
        health_port = find_free_port()
        log_path = log_dir / f"{name}.log"
        # A file, not a pipe: a pipe nobody reads fills up and blocks the worker's logging.
        log_file = log_path.open("wb")
        logs.append(log_file)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "payments_worker",
            env=worker_process_env(
                DATABASE_URL=pipeline.database_url,
                TEMPORAL_ADDRESS=pipeline.temporal_address,
                TEMPORAL_TASK_QUEUE=pipeline.task_queue,
                SANDBOX_LATENCY_MS=str(SANDBOX_LATENCY_MS),
                GATEWAY_TIMEOUT_SECONDS=str(GATEWAY_TIMEOUT_SECONDS),
                HEALTH_PORT=str(health_port),
                # Other tests' payments left pending are not this worker's to drive.
                SWEEPER_PENDING_AFTER_SECONDS="86400",
            ),
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
        processes.append(process)
        async with asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
            while await _health_status(health_port) != 200:
                assert process.returncode is None, log_path.read_text()[-3000:]
                await asyncio.sleep(0.1)
        return process

    try:
        yield start
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.wait()
        for log_file in logs:
            log_file.close()


@pytest.mark.slow
async def test_a_worker_killed_before_the_capture_is_replaced_without_double_charging(
    pipeline_without_worker: Pipeline, tmp_path: Path
) -> None:
    pipeline = pipeline_without_worker
    async with worker_processes(pipeline, tmp_path) as start:
        first = await start("worker-1")

        merchant = await pipeline.onboard()
        payment = await pipeline.card_payment(merchant, SUCCEEDING_CARDS[0])
        payment_id = payment["id"]

        async def between_authorize_and_capture() -> bool:
            return await pipeline.processing_step(payment_id) in ("authorized", "capturing")

        await eventually(
            between_authorize_and_capture, within=30, what="the payment authorized, not captured"
        )
        os.kill(first.pid, signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        assert await pipeline.count(payment_id, Operation.CAPTURE, Outcome.APPROVED) == 0, (
            "killed too late: the capture had already happened"
        )

        await start("worker-2")
        final = await pipeline.wait_for_payment(merchant, payment_id, within=60)

    assert final["status"] == "completed", final
    assert final["gatewayReference"]
    assert final["completedAt"] is not None
    assert await pipeline.count(payment_id, Operation.AUTHORIZE, Outcome.APPROVED) == 1
    assert await pipeline.count(payment_id, Operation.CAPTURE, Outcome.APPROVED) == 1
    assert await pipeline.ledger(payment_id) == [
        (Operation.AUTHORIZE.value, Outcome.APPROVED.value),
        (Operation.CAPTURE.value, Outcome.APPROVED.value),
    ]
    assert await pipeline.open_holds(payment_id) == 0
    events = await pipeline.wait_published("payment", payment_id, count=3)
    assert [event["type"] for event in events] == [
        "payment.initiated",
        "payment.processing",
        "payment.completed",
    ]
