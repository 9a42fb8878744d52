"""The two ceilings the end-to-end figure is a ratio of, measured on the stack's own servers.

(a) Temporal: N bare workflows of five no-op activities on the same dev server, run by a worker
    with the platform worker's settings in its own process (`noop_worker`).
(b) The AWS emulator: the events N payments publish (payment.initiated, .processing, .completed)
    through the same topic, subscriptions and filter policies, provisioned in another region of
    the same emulator so the stack's consumers never see them; published with the relay's
    publisher and batching, and received and deleted from the two queues our services consume,
    ten at a time as they do.
Each gives payments per second; the slower one is the ceiling that binds.
"""

import asyncio
import os
import subprocess
import time
import uuid
from typing import Any

from temporalio.client import Client

from payments_core.aws.clients import AwsContext
from payments_core.aws.provisioning import provision
from payments_core.aws.topology import PROCESSING_QUEUE, WEBHOOK_QUEUE
from payments_core.events.envelope import Event, EventType
from payments_core.outbox.repository import PendingMessage
from payments_core.outbox.sns_publisher import SnsBatchPublisher
from payments_core.settings import ServiceSettings
from scripts.bench.common import REPO, percentile, progress, python_module, stop_group
from scripts.bench.noop_workflow import NoopInput, NoopWorkflow

CEILING_REGION = "eu-west-1"
EVENTS_PER_PAYMENT = (
    EventType.PAYMENT_INITIATED,
    EventType.PAYMENT_PROCESSING,
    EventType.PAYMENT_COMPLETED,
)
START_CONCURRENCY = 32
PUBLISH_ATTEMPTS = 5


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
        return asyncio.run(_run_workflows(address, task_queue, payments))
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


def aws_ceiling(endpoint_url: str, payments: int) -> dict[str, Any]:
    # The emulator takes any credentials; these keep the default chain from looking further.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    return asyncio.run(_publish_and_consume(endpoint_url, payments))


async def _publish_and_consume(endpoint_url: str, payments: int) -> dict[str, Any]:
    settings = ServiceSettings(aws_endpoint_url=endpoint_url, aws_region=CEILING_REGION)
    resources = await provision(settings)
    aws = AwsContext.from_settings(settings)
    merchant = uuid.uuid4()
    messages = [
        _pending(Event.new(event_type, merchant, {"payment": _payment_object(index)}))
        for index in range(payments)
        for event_type in EVENTS_PER_PAYMENT
    ]
    expected = {PROCESSING_QUEUE: payments, WEBHOOK_QUEUE: payments * len(EVENTS_PER_PAYMENT)}
    async with aws.client("sns") as sns, aws.client("sqs") as sqs:
        publisher = SnsBatchPublisher(sns, resources.topic_arn)
        started = time.perf_counter()
        consumers = [
            asyncio.create_task(_drain(sqs, resources.queues[name].url, count))
            for name, count in expected.items()
        ]
        # As the relay does at full speed: claims of 100 rows, published 10 per call at once,
        # and what failed (the emulator timing out) published again.
        for offset in range(0, len(messages), 100):
            claim = messages[offset : offset + 100]
            for _ in range(PUBLISH_ATTEMPTS):
                outcome = await publisher.publish(claim)
                claim = [message for message in claim if message.id in outcome.failed]
                if not claim:
                    break
            else:
                raise SystemExit(f"the emulator refused {len(claim)} publishes, 5 times each")
        await asyncio.gather(*consumers)
        elapsed = time.perf_counter() - started
    return {
        "payments": payments,
        "events": len(messages),
        "seconds": round(elapsed, 3),
        "payments_per_s": round(payments / elapsed, 2),
        "region": CEILING_REGION,
    }


async def _drain(sqs: Any, queue_url: str, count: int) -> None:
    received = 0
    while received < count:
        response = await sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        batch = response.get("Messages", [])
        if batch:
            await sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(batch)
                ],
            )
            received += len(batch)


def _pending(event: Event) -> PendingMessage:
    return PendingMessage(event.id, event.type.value, event.merchant_id, event.envelope(), None, 0)


def _payment_object(index: int) -> dict[str, Any]:
    """A payment as events carry it, with realistic field sizes."""
    return {
        "id": str(uuid.uuid4()),
        "reference": f"PAY-{uuid.uuid4().hex[:16].upper()}",
        "amount": 10_000 + index,
        "currency": "NGN",
        "status": "pending",
        "paymentMethodId": str(uuid.uuid4()),
        "merchantReference": None,
        "description": "bench",
        "metadata": {},
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
    }


def describe(name: str, figures: dict[str, Any]) -> None:
    progress(f"e2e: ceiling {name}: {figures['payments_per_s']:.1f} payments/s")
