"""The whole pipeline in one event loop, and helpers to drive it through the public API.

API (outbox relay on) → SNS → payment-processing-queue → ProcessorService → Temporal → worker →
PostgreSQL and the sandbox ledger. Every piece is the production code; only the ports, the task
queue and the sandbox's answer timeout are the test's own.
"""

import asyncio
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from payments_api.app import create_app
from payments_core.aws.clients import AwsContext
from payments_core.aws.provisioning import ProvisionedResources, provision
from payments_core.aws.topology import PROCESSING_QUEUE
from payments_core.consumer.settings import ConsumerSettings
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.gateway.sandbox.entries import Operation, Outcome
from payments_core.gateway.sandbox.ledger import (
    count_entries,
    entry_for_key,
    ledger_for_payment,
    open_holds,
)
from payments_core.settings import ProcessorSettings, WorkerSettings
from payments_devstack.moto_server import MotoServer
from payments_processor.service import ProcessorService
from payments_worker.worker import build_activities, build_gateways, build_worker
from tests.api.support import (
    OPERATOR,
    WEBHOOK_ENCRYPTION_KEY,
    api_settings,
    running_client,
    unique_email,
)

Sessions = async_sessionmaker[AsyncSession]

# The "never answers" card (0341) keeps each authorization attempt waiting this long.
ANSWER_TIMEOUT_SECONDS = 0.2
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
FINAL_WITHIN_SECONDS = 60.0  # CONTRACT.md: every test card final within 60 s

SUCCEEDING_CARDS = ("4242424242424242", "5555555555554444", "5060666666666666666")
DECLINED_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
TRANSIENT_CARD = "4000000000000119"
CAPTURE_FAILS_CARD = "4000000000000259"
TIMEOUT_CARD = "4000000000000341"
ALL_TEST_CARDS = (
    *SUCCEEDING_CARDS,
    DECLINED_CARD,
    INSUFFICIENT_FUNDS_CARD,
    TRANSIENT_CARD,
    CAPTURE_FAILS_CARD,
    TIMEOUT_CARD,
)


async def eventually(check: Any, *, within: float = 15.0, what: str = "condition") -> Any:
    """Poll `check` (sync or async, returning a truthy value when done) and return its value."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class Merchant:
    id: str
    headers: dict[str, str]


@dataclass
class Pipeline:
    """The running pieces, and what a test needs to drive and observe them."""

    api: httpx.AsyncClient
    sessions: Sessions
    temporal: Client
    aws: AwsContext
    resources: ProvisionedResources
    processor: ProcessorService | None  # None: the test runs the processor its own way
    task_queue: str
    database_url: str
    temporal_address: str
    # The API's origin as a browser reaches it (running_pipeline's serve_over_tcp); the worker
    # builds challenge URLs on it. None: WorkerSettings' own default.
    public_base_url: str | None = None
    # Where the worker's Stripe connectors send their requests (a localstripe); None: Stripe's.
    stripe_api_base: str | None = None
    # Between the worker's Stripe connectors and their processor (tests' faults); None: direct.
    stripe_transport: httpx.AsyncBaseTransport | None = None
    _worker_stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    worker: Worker | None = None
    _received: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- the in-process worker ------------------------------------------------------------

    async def start_worker(self) -> Worker:
        assert self.worker is None, "the worker is already running"
        # Only when set: otherwise PUBLIC_BASE_URL or the settings' default, as before.
        public_url: dict[str, Any] = {}
        if self.public_base_url is not None:
            public_url["public_base_url"] = self.public_base_url
        if self.stripe_api_base is not None:
            public_url["stripe_api_base"] = self.stripe_api_base
        settings = WorkerSettings(
            database_url=self.database_url,
            temporal_address=self.temporal_address,
            temporal_task_queue=self.task_queue,
            sandbox_latency_ms=0,
            gateway_timeout_seconds=ANSWER_TIMEOUT_SECONDS,
            health_port=0,
            # The API's key: connector credentials it sealed are opened here.
            webhook_encryption_key=WEBHOOK_ENCRYPTION_KEY,
            **public_url,
        )
        engine = create_engine(self.database_url, pool_size=10)
        self._worker_stack.push_async_callback(engine.dispose)
        sessions = create_session_factory(engine)
        gateways = build_gateways(settings, sessions, transport=self.stripe_transport)
        self._worker_stack.push_async_callback(gateways.aclose)
        activities = build_activities(settings, sessions, gateways)
        worker = build_worker(self.temporal, self.task_queue, activities)
        # Worker's own context manager: shut down (polls ended, activities finished) on exit, so
        # no Temporal thread outlives the event loop.
        self.worker = await self._worker_stack.enter_async_context(worker)
        return self.worker

    async def stop_worker(self) -> None:
        await self._worker_stack.aclose()
        self.worker = None

    # -- the public API -------------------------------------------------------------------

    async def onboard(self) -> Merchant:
        response = await self.api.post(
            "/merchants", json={"name": "E2E Merchant", "email": unique_email()}, headers=OPERATOR
        )
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        return Merchant(data["id"], {"X-API-Key": data["apiKey"]})

    async def add_method(self, merchant: Merchant, body: dict[str, Any]) -> str:
        response = await self.api.post("/payment-methods", json=body, headers=merchant.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])

    async def add_card(self, merchant: Merchant, number: str) -> str:
        card = {"number": number, "expMonth": 12, "expYear": 2035, "cvc": "123"}
        return await self.add_method(merchant, {"type": "card", "card": card})

    async def create_payment(
        self, merchant: Merchant, method_id: str, amount: int = 10_000
    ) -> dict[str, Any]:
        response = await self.api.post(
            "/payments",
            json={"amount": amount, "currency": "NGN", "paymentMethodId": method_id},
            headers=merchant.headers,
        )
        assert response.status_code == 201, response.text
        payment: dict[str, Any] = response.json()["data"]
        assert payment["status"] == "pending"
        return payment

    async def card_payment(
        self, merchant: Merchant, number: str, amount: int = 10_000
    ) -> dict[str, Any]:
        return await self.create_payment(merchant, await self.add_card(merchant, number), amount)

    async def get_payment(self, merchant: Merchant, payment_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/payments/{payment_id}", headers=merchant.headers)
        assert response.status_code == 200, response.text
        payment: dict[str, Any] = response.json()["data"]
        return payment

    async def wait_for_payment(
        self,
        merchant: Merchant,
        payment_id: str,
        statuses: frozenset[str] = TERMINAL_STATUSES,
        within: float = FINAL_WITHIN_SECONDS,
    ) -> dict[str, Any]:
        """GET /payments/{id} until its status is one of `statuses`."""
        last: dict[str, Any] = {}

        async def reached() -> bool:
            nonlocal last
            last = await self.get_payment(merchant, payment_id)
            return last["status"] in statuses

        try:
            await eventually(reached, within=within, what=f"payment {payment_id} in {statuses}")
        except AssertionError as error:
            raise AssertionError(f"{error}; last seen: {last}") from None
        return last

    async def wait_for_refund(
        self, merchant: Merchant, refund_id: str, within: float = 30.0
    ) -> dict[str, Any]:
        last: dict[str, Any] = {}

        async def finished() -> bool:
            nonlocal last
            response = await self.api.get(f"/refunds/{refund_id}", headers=merchant.headers)
            assert response.status_code == 200, response.text
            last = response.json()["data"]
            return bool(last["status"] != "pending")

        await eventually(finished, within=within, what=f"refund {refund_id} finished")
        return last

    # -- the database and the ledger ------------------------------------------------------

    async def events_about(self, kind: str, object_id: str) -> list[dict[str, Any]]:
        """Outbox rows whose envelope's `data.<kind>.id` is `object_id`, in written order."""
        statement = text(
            "SELECT id, event_type, payload, published_at FROM outbox"
            " WHERE payload -> 'data' -> CAST(:kind AS text) ->> 'id' = :object_id"
            " ORDER BY created_at, (payload ->> 'timestamp')"
        )
        async with self.sessions() as session:
            rows = (await session.execute(statement, {"kind": kind, "object_id": object_id})).all()
        return [
            {
                "id": row.id,
                "type": row.event_type,
                "payload": row.payload,
                "published": row.published_at,
            }
            for row in rows
        ]

    async def payment_events(self, payment_id: str) -> list[dict[str, Any]]:
        return await self.events_about("payment", payment_id)

    async def wait_published(self, kind: str, object_id: str, count: int) -> list[dict[str, Any]]:
        """The object's `count` events, once the relay marked every one published."""

        async def all_published() -> list[dict[str, Any]] | None:
            events = await self.events_about(kind, object_id)
            if len(events) >= count and all(event["published"] is not None for event in events):
                return events
            return None

        events: list[dict[str, Any]] = await eventually(
            all_published, within=20, what=f"{count} published events of {kind} {object_id}"
        )
        return events

    async def processing_step(self, payment_id: str) -> str | None:
        async with self.sessions() as session:
            result = await session.execute(
                text("SELECT processing_step FROM payments WHERE id = :id"),
                {"id": uuid.UUID(payment_id)},
            )
            step: str | None = result.scalar_one()
        return step

    async def ledger(self, payment_id: str) -> list[tuple[str, str]]:
        """(operation, outcome) of the payment's sandbox ledger rows, oldest first, plus a
        tombstone (a void written under the authorization's key) if there is one."""
        async with self.sessions() as session:
            entries = await ledger_for_payment(session, payment_id)
            tombstone = await entry_for_key(session, f"{payment_id}-authorize")
        rows = [(entry.operation, entry.outcome) for entry in entries]
        if tombstone is not None and tombstone.payment_id is None:
            rows.append((tombstone.operation, tombstone.outcome))
        return rows

    async def count(self, payment_id: str, operation: Operation, outcome: Outcome) -> int:
        async with self.sessions() as session:
            return await count_entries(session, payment_id, operation, outcome)

    async def open_holds(self, payment_id: str) -> int:
        async with self.sessions() as session:
            return len(await open_holds(session, payment_id))

    # -- Temporal -------------------------------------------------------------------------

    async def runs_of(self, workflow_id: str) -> list[WorkflowExecutionStatus | None]:
        """Every run of a workflow id (visibility is eventually consistent: callers poll)."""
        return [
            execution.status
            async for execution in self.temporal.list_workflows(f'WorkflowId = "{workflow_id}"')
        ]

    async def wait_for_workflow(self, workflow_id: str) -> WorkflowExecutionStatus | None:
        """Until the processor has started `workflow_id`; its status then."""

        async def started() -> WorkflowExecutionDescription | None:
            try:
                return await self.temporal.get_workflow_handle(workflow_id).describe()
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    return None  # not started yet
                raise

        description = await eventually(started, within=20, what=f"workflow {workflow_id} started")
        return description.status  # type: ignore[no-any-return]

    async def wait_for_workflow_status(
        self, workflow_id: str, status: WorkflowExecutionStatus, within: float = 20.0
    ) -> None:
        """Until `workflow_id` has `status` (a workflow ends a moment after its last write)."""

        async def reached() -> bool:
            description = await self.temporal.get_workflow_handle(workflow_id).describe()
            return description.status == status

        await eventually(reached, within=within, what=f"workflow {workflow_id} {status.name}")

    async def publish_again(self, envelope: dict[str, Any]) -> None:
        """Deliver an event a second time, as SNS's at-least-once delivery may."""
        async with self.aws.client("sns") as sns:
            await sns.publish(
                TopicArn=self.resources.topic_arn,
                Message=json.dumps(envelope, separators=(",", ":")),
                MessageAttributes={
                    "type": {"DataType": "String", "StringValue": envelope["type"]},
                    "merchantId": {"DataType": "String", "StringValue": envelope["merchantId"]},
                },
            )

    async def delivered(self, queue_name: str, event_ids: set[str]) -> dict[str, Any]:
        """Receive (and delete) from a fan-out queue until every event id arrived; each one's
        body and message attributes, by event id."""
        url = self.resources.queues[queue_name].url
        seen = self._received.setdefault(queue_name, {})  # earlier calls' messages too
        async with self.aws.client("sqs") as sqs:

            async def all_arrived() -> bool:
                answer = await sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    MessageAttributeNames=["All"],
                )
                for message in answer.get("Messages", []):
                    body = json.loads(message["Body"])
                    attributes = {
                        name: value["StringValue"]
                        for name, value in message.get("MessageAttributes", {}).items()
                    }
                    seen[body["id"]] = {"body": body, "attributes": attributes}
                    await sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                return event_ids <= seen.keys()

            await eventually(all_arrived, within=30, what=f"{len(event_ids)} events in {url}")
        return {event_id: seen[event_id] for event_id in event_ids}

    async def authorize_attempts(self, payment_id: str) -> int:
        """How many authorizations the sandbox counted under the payment's key (0119 only)."""
        async with self.sessions() as session:
            result = await session.execute(
                text("SELECT attempts FROM sandbox_attempts WHERE idempotency_key = :key"),
                {"key": f"{payment_id}-authorize"},
            )
            return int(result.scalar_one_or_none() or 0)

    def handled_records(self) -> int:
        """Records of payment-processing-queue the processor handled and deleted so far."""
        poller = self.processor.poller
        return 0 if poller is None else poller.stats.deleted


class _InProcessServer(uvicorn.Server):
    """uvicorn without its signal handlers: a Ctrl-C goes to pytest, which stops the run."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serving_over_tcp(app: FastAPI) -> AsyncIterator[str]:
    """`app` on a free port of 127.0.0.1, served by uvicorn in this event loop; its origin.

    The app's lifespan (relay, clean-up) is left to whoever already runs it (running_client): the
    same app then answers both the ASGI client and the TCP port, on one state.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    origin = f"http://127.0.0.1:{listener.getsockname()[1]}"
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=False,
        proxy_headers=False,  # as __main__ serves it: the app applies FORWARDED_ALLOW_IPS itself
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = _InProcessServer(config)
    task = asyncio.create_task(server.serve(sockets=[listener]), name="e2e-api-http")
    try:
        await eventually(lambda: server.started or task.done(), what="uvicorn listening")
        if task.done():
            task.result()  # raises what stopped it
        yield origin
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        listener.close()


async def _stop_processor(service: ProcessorService, task: "asyncio.Task[None]") -> None:
    service.stop()
    await asyncio.wait_for(task, timeout=30)


@asynccontextmanager
async def running_pipeline(
    database_url: str,
    moto_server: MotoServer,
    temporal_address: str,
    sessions: Sessions,
    *,
    with_worker: bool = True,
    with_processor: bool = True,
    serve_over_tcp: bool = False,
    api_overrides: dict[str, Any] | None = None,
    stripe_api_base: str | None = None,
    stripe_transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Pipeline]:
    """API + processor (+ the in-process worker unless `with_worker=False`; the processor unless
    `with_processor=False`, for a test that runs it as a Lambda would), on a fresh bus and
    a task queue of their own; torn down in reverse order. With `serve_over_tcp` the API also
    listens on a free port (for a browser), which the worker's challenge URLs point at.
    `api_overrides` are API settings of the test's own (shorter request deadlines, say);
    `stripe_api_base` points both the API's and the worker's Stripe connectors at a fake."""
    await asyncio.to_thread(moto_server.reset)
    settings = api_settings(
        database_url,
        enable_sns_publishing=True,
        aws_endpoint_url=moto_server.endpoint_url,
        temporal_address=temporal_address,
        outbox_poll_seconds=0.5,
        **({"stripe_api_base": stripe_api_base} if stripe_api_base else {}),
        **(api_overrides or {}),
    )
    aws = AwsContext.from_settings(settings)
    resources = await provision(aws)
    # Rows other tests left unpublished are not this pipeline's business: the relay would flood
    # the fresh emulator (and the processor) with them.
    async with sessions() as session:
        await session.execute(
            text("UPDATE outbox SET published_at = now() WHERE published_at IS NULL")
        )
        await session.commit()

    task_queue = f"e2e-{uuid.uuid4().hex}"
    temporal = await Client.connect(temporal_address)
    async with AsyncExitStack() as stack:
        app = create_app(settings)
        api = await stack.enter_async_context(running_client(app))
        public_base_url = None
        if serve_over_tcp:
            public_base_url = await stack.enter_async_context(serving_over_tcp(app))

        processor = None
        if with_processor:
            processor = await _start_processor(
                stack, moto_server, aws, temporal_address, task_queue
            )

        pipeline = Pipeline(
            api=api,
            sessions=sessions,
            temporal=temporal,
            aws=aws,
            resources=resources,
            processor=processor,
            task_queue=task_queue,
            database_url=database_url,
            temporal_address=temporal_address,
            public_base_url=public_base_url,
            stripe_api_base=stripe_api_base,
            stripe_transport=stripe_transport,
        )
        stack.push_async_callback(pipeline.stop_worker)  # first out: the worker
        if with_worker:
            await pipeline.start_worker()
        yield pipeline


async def _start_processor(
    stack: AsyncExitStack,
    moto_server: MotoServer,
    aws: AwsContext,
    temporal_address: str,
    task_queue: str,
) -> ProcessorService:
    processor = ProcessorService(
        ProcessorSettings(
            aws_endpoint_url=moto_server.endpoint_url,
            temporal_address=temporal_address,
            temporal_task_queue=task_queue,
            payment_processing_queue=PROCESSING_QUEUE,
            health_port=0,
        ),
        ConsumerSettings(sqs_wait_seconds=1, sqs_drain_seconds=10),
        aws=aws,
        health_host="127.0.0.1",
    )
    processor_task = asyncio.create_task(processor.run(), name="e2e-processor")
    stack.push_async_callback(_stop_processor, processor, processor_task)
    await eventually(
        lambda: processor_task.done() or (processor.poller and processor.poller.running),
        what="the processor polling",
    )
    if processor_task.done():
        processor_task.result()  # raises what stopped it
    return processor


def worker_process_env(**overrides: str) -> dict[str, str]:
    """The environment for `python -m payments_worker`, none of the runner's own settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("TEMPORAL_", "DATABASE_", "SANDBOX_", "SWEEPER_", "HEALTH_", "GATEWAY_", "LOG_")
        )
    }
    env.update(
        LOG_FORMAT="console",
        LOG_LEVEL="INFO",
        WEBHOOK_ENCRYPTION_KEY=WEBHOOK_ENCRYPTION_KEY,
        **overrides,
    )
    return env
