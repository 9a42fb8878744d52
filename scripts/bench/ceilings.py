"""The Temporal ceiling the end-to-end figure is a ratio of, measured on the stack's own server.

(a) Temporal: N bare workflows of five no-op activities on the same dev server, run by a worker
    with the platform worker's settings in its own process (`noop_worker`).
(b) The AWS emulator: see `emulator_ceiling`.
Each gives payments per second; the slower one is the ceiling that binds.
"""

import asyncio
import subprocess
import time
import uuid
from typing import Any

from temporalio.client import Client

from scripts.bench.common import REPO, percentile, progress, python_module, stop_group
from scripts.bench.cpu import cpu_seconds
from scripts.bench.noop_workflow import NoopInput, NoopWorkflow

START_CONCURRENCY = 32


def temporal_ceiling(address: str, payments: int) -> dict[str, Any]:
    task_queue = f"bench-noop-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        python_module("scripts.bench.noop_worker", address, task_queue),
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert worker.stdout is not None
        if worker.stdout.readline().strip() != "ready":
            raise SystemExit("the no-op Temporal worker did not start")
        # From ready on, as the stack's services are measured from before the burst: the
        # worker's start-up (imports, connecting) is no part of a payment's cost.
        at_ready = cpu_seconds(worker.pid) or 0.0
        figures = asyncio.run(_run_workflows(address, task_queue, payments))
        # The stack's processes are measured by the caller; this one is ours.
        used = (cpu_seconds(worker.pid) or 0.0) - at_ready
        figures["noop_worker_cpu_ms_per_payment"] = round(used * 1000 / payments, 1)
        return figures
    finally:
        stop_group(worker)


async def _run_workflows(address: str, task_queue: str, count: int) -> dict[str, Any]:
    client = await Client.connect(address)
    limit = asyncio.Semaphore(START_CONCURRENCY)
    latencies: list[float] = []
    finished: list[float] = []

    async def one(index: int) -> None:
        async with limit:
            began = time.perf_counter()
            handle = await client.start_workflow(
                NoopWorkflow.run,
                NoopInput(f"bench-{index}"),
                id=f"{task_queue}-{index}",
                task_queue=task_queue,
            )
        await handle.result()
        finished.append(time.perf_counter())
        latencies.append(finished[-1] - began)

    started = time.perf_counter()
    await asyncio.gather(*(one(index) for index in range(count)))
    elapsed = max(finished) - started
    return {
        "payments": count,
        "seconds": round(elapsed, 3),
        "payments_per_s": round(count / elapsed, 2),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


def describe(name: str, figures: dict[str, Any]) -> None:
    used = figures.get("cpu_ms_per_payment", {})
    cpu = ", ".join(f"{process} {ms}" for process, ms in used.items())
    progress(f"e2e: ceiling {name}: {figures['payments_per_s']:.1f} payments/s (CPU ms: {cpu})")
