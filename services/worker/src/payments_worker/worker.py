"""The worker process: the Temporal worker, the pending-payment sweeper, the reconciler and the
health endpoint.

Clients are built here, once, at start (STYLE.md rule 4). SIGTERM or SIGINT stops polling, lets
running activities finish (up to GRACEFUL_SHUTDOWN), then closes the rest.
"""

import asyncio
import signal
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner

# Every table model mapped: a flush resolves foreign keys (outbox → merchants) through the
# metadata, and the worker itself never imports some of the models they point at.
import payments_core.db.tables  # noqa: F401
from payments_core.connectors.gateways import Gateways
from payments_core.db.bounds import StatementBounds
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.gateway.connector import GatewayConnector
from payments_core.gateway.metered import MeteredConnector
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.settings import WorkerSettings
from payments_core.telemetry.logging import configure_logging
from payments_core.telemetry.temporal import temporal_metrics
from payments_core.telemetry.tracing import WORKER_SERVICE, configure_tracing
from payments_core.temporal.client import connect
from payments_core.webhooks.secret_box import SecretBox
from payments_worker import policies
from payments_worker.activities import PaymentActivities
from payments_worker.health import HealthServer
from payments_worker.log_context import ActivityLogContext
from payments_worker.reconciler.janitor import Reconciler
from payments_worker.reconciler.settle import Settler
from payments_worker.sweeper import PendingWorkSweeper
from payments_worker.workflows import PaymentProcessingWorkflow, RefundWorkflow

log = structlog.get_logger()

GRACEFUL_SHUTDOWN = timedelta(seconds=10)
CONNECT_ATTEMPTS = 10
MAX_CONCURRENT_WORKFLOW_TASKS = 100


def build_connector(
    settings: WorkerSettings, sessions: async_sessionmaker[AsyncSession]
) -> GatewayConnector:
    return MeteredConnector(
        SandboxConnector(
            sessions,
            latency_ms=settings.sandbox_latency_ms,
            answer_timeout_seconds=settings.gateway_timeout_seconds,
        )
    )


def build_gateways(
    settings: WorkerSettings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Gateways:
    """The sandbox, and the merchants' connectors opened from their sealed credentials
    (`transport`: tests put faults between the connectors and their processor)."""
    return Gateways(
        build_connector(settings, sessions),
        SecretBox(settings.connector_key),
        stripe_api_base=settings.stripe_api_base,
        stripe_timeout_seconds=settings.stripe_timeout_seconds,
        stripe_redirect_authentication=settings.stripe_redirect_authentication,
        transport=transport,
    )


def gateway_call_timeout(settings: WorkerSettings) -> timedelta:
    # The slowest connector's own answer timeout bounds a call (the sandbox's or Stripe's).
    answer_timeout = max(settings.gateway_timeout_seconds, settings.stripe_timeout_seconds)
    return policies.gateway_call_timeout(
        latency=timedelta(milliseconds=settings.sandbox_latency_ms),
        answer_timeout=timedelta(seconds=answer_timeout),
    )


def build_activities(
    settings: WorkerSettings,
    sessions: async_sessionmaker[AsyncSession],
    gateways: Gateways | GatewayConnector | None = None,
) -> PaymentActivities:
    return PaymentActivities(
        sessions,
        gateways or build_gateways(settings, sessions),
        gateway_call_timeout=gateway_call_timeout(settings),
        public_base_url=settings.public_base_url,
        authentication_timeout=timedelta(seconds=settings.authentication_timeout_seconds),
    )


def workflow_runner() -> WorkflowRunner:
    """How the worker runs workflow code: without the sandbox.

    The sandbox re-imports the workflow module for every workflow it starts and goes through
    `exec` for each payload it converts: about a quarter of the worker's CPU per payment
    (README, "Performance"). What it guards against, a workflow calling something
    non-deterministic (the clock, randomness, I/O) or keeping state in a module, is checked
    where it costs nothing at run time: every recorded branch of the workflows replays in the
    sandbox in `make test` (tests/worker/test_replay.py), and the workflow module keeps no
    module-level state.
    """
    return UnsandboxedWorkflowRunner()


def build_worker(
    client: Client,
    task_queue: str,
    activities: PaymentActivities,
    *,
    max_concurrent_activities: int = 20,
) -> Worker:
    """The Temporal worker with every workflow and activity of the platform registered."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[PaymentProcessingWorkflow, RefundWorkflow],
        activities=activities.all(),
        interceptors=[ActivityLogContext()],
        # Each activity holds at most one database connection at a time: no more activities
        # than the pool (plus its overflow) can serve, so none waits for a connection. Local
        # activities (the database steps) have a limit of their own, of the same size, and
        # draw on the same pool: with both full at once some wait for a connection (up to the
        # pool's timeout).
        max_concurrent_activities=max_concurrent_activities,
        max_concurrent_local_activities=max_concurrent_activities,
        max_concurrent_workflow_tasks=MAX_CONCURRENT_WORKFLOW_TASKS,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        workflow_runner=workflow_runner(),
    )


async def connect_with_retry(settings: WorkerSettings) -> Client:
    """Temporal may still be starting (make up starts everything at once): retry a little."""
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            return await connect(
                settings.temporal_address,
                settings.temporal_namespace,
                runtime=temporal_metrics().runtime,
            )
        except RuntimeError as error:
            if attempt == CONNECT_ATTEMPTS:
                raise
            log.warning("worker.temporal_unreachable", attempt=attempt, error=str(error))
            await asyncio.sleep(min(2.0 * attempt, 10.0))
    raise AssertionError("unreachable")


async def run(settings: WorkerSettings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    # Before the engine and the client: both are instrumented only when tracing is on.
    tracing = configure_tracing(WORKER_SERVICE)
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        bounds=StatementBounds.from_settings(settings),
    )
    sessions = create_session_factory(engine)
    health = HealthServer(settings.health_port)
    try:
        client = await connect_with_retry(settings)
        gateways = build_gateways(settings, sessions)
        worker = build_worker(
            client,
            settings.temporal_task_queue,
            build_activities(settings, sessions, gateways),
            max_concurrent_activities=settings.database_pool_size * 2,
        )
        helpers = _background(settings, sessions, client, gateways)
        try:
            return await _serve(worker, helpers, health, settings)
        finally:
            await gateways.aclose()
    except Exception:
        log.exception("worker.failed")
        return 1
    finally:
        await health.stop()
        await engine.dispose()
        tracing.shutdown()


def _background(
    settings: WorkerSettings,
    sessions: async_sessionmaker[AsyncSession],
    client: Client,
    gateways: Gateways,
) -> dict[str, Callable[[], Coroutine[Any, Any, None]]]:
    """The sweeper and the reconciler, by name: each runs for ever beside the Temporal worker."""
    if not settings.enable_temporal_workflows:
        # Payments are not driven by workflows in this deployment: starting any would be wrong,
        # and without workflows every payment would look abandoned to the reconciler.
        log.info("worker.sweeper_disabled", reason="ENABLE_TEMPORAL_WORKFLOWS=false")
        return {}
    sweeper = PendingWorkSweeper(
        sessions,
        client,
        settings.temporal_task_queue,
        pending_after=timedelta(seconds=settings.sweeper_pending_after_seconds),
        interval=timedelta(seconds=settings.sweeper_interval_seconds),
    )
    settler = Settler(sessions, gateways, call_timeout=gateway_call_timeout(settings))
    reconciler = Reconciler(
        sessions,
        settler,
        client,
        after=timedelta(seconds=settings.reconcile_after_seconds),
        interval=timedelta(seconds=settings.reconcile_interval_seconds),
    )
    return {"sweeper": sweeper.run, "reconciler": reconciler.run}


async def _serve(
    worker: Worker,
    background: dict[str, Callable[[], Coroutine[Any, Any, None]]],
    health: HealthServer,
    settings: WorkerSettings,
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    worker_task = asyncio.create_task(worker.run(), name="temporal-worker")
    stop_task = asyncio.create_task(stop.wait(), name="stop")
    helpers: list[asyncio.Task[Any]] = [stop_task]
    helpers += [asyncio.create_task(run(), name=name) for name, run in background.items()]
    await health.start()
    log.info("worker.started", task_queue=settings.temporal_task_queue)
    await asyncio.wait({worker_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    log.info("worker.stopping")
    for task in helpers:
        task.cancel()
    await asyncio.gather(*helpers, return_exceptions=True)
    await health.stop()
    if not worker_task.done():
        await worker.shutdown()
    try:
        await worker_task  # re-raises if the worker died on its own
    except Exception:
        log.exception("worker.worker_crashed")
        return 1
    log.info("worker.stopped")
    return 0
