"""`python -m scripts.bench.noop_worker ADDRESS TASK_QUEUE`: the no-op workflow's worker.

The same worker settings as `payments_worker`: its concurrency limits (activities = twice the
default database pool), the same runtime with SDK metrics, the same workflow runner (no
sandbox) and eager activity execution. Runs until SIGTERM.
"""

import asyncio
import signal
import sys

from temporalio.worker import Worker

from payments_core.settings import WorkerSettings
from payments_core.telemetry.temporal import temporal_metrics
from payments_core.temporal.client import connect
from payments_worker.worker import (
    GRACEFUL_SHUTDOWN,
    MAX_CONCURRENT_WORKFLOW_TASKS,
    workflow_runner,
)
from scripts.bench.noop_workflow import NoopWorkflow, noop


async def serve(address: str, task_queue: str) -> None:
    client = await connect(address, "default", runtime=temporal_metrics().runtime)
    pool_size = WorkerSettings.model_fields["database_pool_size"].default
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[NoopWorkflow],
        activities=[noop],
        max_concurrent_activities=pool_size * 2,
        max_concurrent_workflow_tasks=MAX_CONCURRENT_WORKFLOW_TASKS,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        workflow_runner=workflow_runner(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with worker:
        print("ready", flush=True)  # noqa: T201 - the bench waits for this line
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
