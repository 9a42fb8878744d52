"""A payment's journey through the consumers as Lambda functions, however they are packaged
(zips here, the services' images in tests/containers).

A payment made through the public API completes through the processor function; its webhook is
recorded and sent by the sender function, whose first attempt the merchant refuses; the
scheduled function then sends the retry. Each batch also carries a poison record, which comes
back as the batch's only item failure. The worker, the API and its outbox relay run in the test
(they are not Lambda functions); the settings the sender keeps secret come from Secrets Manager.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from payments_core.aws.topology import PROCESSING_QUEUE, WEBHOOK_QUEUE
from payments_devstack.lambda_package.functions import FUNCTIONS
from payments_devstack.moto_server import MotoServer
from tests.api.support import WEBHOOK_ENCRYPTION_KEY
from tests.deploy.packaged import PackagedFunction
from tests.deploy.sqs_events import lambda_record, poison_record, scheduled_event
from tests.e2e.support import Pipeline, Sessions, eventually, running_pipeline
from tests.webhooks.support import Receiver, Reply, verify

PROCESSOR = "payments-processor"
SENDER = "payments-webhook-sender"
RETRIES = "payments-webhook-retries"
HANDLERS = {f.name: f.handlers for f in FUNCTIONS}
# Each function: the service it is built from, and its handler (as in deploy/aws/template.yaml).
FUNCTION_HANDLERS = {
    PROCESSOR: (PROCESSOR, HANDLERS[PROCESSOR][0]),
    SENDER: (SENDER, HANDLERS[SENDER][0]),
    RETRIES: (SENDER, HANDLERS[SENDER][1]),
}
RETRY_AFTER_SECONDS = 2  # the sender's first retry, in its WEBHOOK_RETRY_SCHEDULE


@dataclass
class Functions:
    processor: PackagedFunction
    sender: PackagedFunction
    retries: PackagedFunction


@pytest.fixture
async def lambda_pipeline(
    database_url: str, moto_server: MotoServer, temporal_address: str, e2e_sessions: Sessions
) -> AsyncIterator[Pipeline]:
    """API (relay on) and worker in the test; the processor is a Lambda function."""
    async with running_pipeline(
        database_url,
        moto_server,
        temporal_address,
        e2e_sessions,
        with_processor=False,
        api_overrides={"webhook_allow_private_urls": True},
    ) as pipeline:
        yield pipeline


@pytest.fixture
def function_environments(
    moto_server: MotoServer, database_url: str, lambda_pipeline: Pipeline
) -> dict[str, dict[str, str]]:
    """Each function's environment as the template sets it (the sender's secrets as ARNs of
    secrets in the emulator's Secrets Manager), pointed at this test's infrastructure."""
    secrets = boto3.client(
        "secretsmanager", endpoint_url=moto_server.endpoint_url, region_name="us-east-1"
    )
    values = {"DATABASE_URL": database_url, "WEBHOOK_ENCRYPTION_KEY": WEBHOOK_ENCRYPTION_KEY}
    secret_arns = {
        f"{name}_SECRET_ARN": secrets.create_secret(Name=f"payments/{name}", SecretString=value)[
            "ARN"
        ]
        for name, value in values.items()
    }
    aws = {
        "AWS_ENDPOINT_URL": moto_server.endpoint_url,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "LOG_FORMAT": "json",
        "HEALTH_PORT": "0",
    }
    sender = {
        **aws,
        **secret_arns,
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "WEBHOOK_RETRY_SCHEDULE": f"{RETRY_AFTER_SECONDS},{RETRY_AFTER_SECONDS}",
    }
    processor = {
        **aws,
        "TEMPORAL_ADDRESS": lambda_pipeline.temporal_address,
        "TEMPORAL_TASK_QUEUE": lambda_pipeline.task_queue,
    }
    return {PROCESSOR: processor, SENDER: sender, RETRIES: sender}


def receive_records(pipeline: Pipeline, endpoint: str, queue: str) -> list[dict[str, Any]]:
    """Everything the queue holds now, as the event source mapping would hand it over."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    url = pipeline.resources.queue_urls[queue]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    arn = attributes["Attributes"]["QueueArn"]
    records: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return records
        records.extend(lambda_record(message, arn) for message in batch)


def delete(endpoint: str, pipeline: Pipeline, queue: str, records: list[dict[str, Any]]) -> None:
    """What the event source mapping does with the records a batch did not report."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    url = pipeline.resources.queue_urls[queue]
    for record in records:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])


async def records_until(
    pipeline: Pipeline, endpoint: str, queue: str, wanted: str, within: float = 30.0
) -> list[dict[str, Any]]:
    """The queue's records until one carries an event of type `wanted`."""
    records: list[dict[str, Any]] = []

    async def arrived() -> bool:
        records.extend(await asyncio.to_thread(receive_records, pipeline, endpoint, queue))
        return any(json.loads(r["body"]).get("type") == wanted for r in records)

    await eventually(arrived, within=within, what=f"a {wanted} event on {queue}")
    return records


# Starts one function: its name, the service whose code it runs, and its handler.
Starter = Callable[[str, str, str], AbstractContextManager[PackagedFunction]]


@contextmanager
def started_functions(start: Starter) -> Iterator[Functions]:
    """The three functions of deploy/aws/template.yaml, each started by `start`, until the block
    ends."""
    with ExitStack() as stack:
        started = {
            name: stack.enter_context(start(name, service, handler))
            for name, (service, handler) in FUNCTION_HANDLERS.items()
        }
        yield Functions(started[PROCESSOR], started[SENDER], started[RETRIES])


def report_cold_starts(functions: Functions, report_file: Path) -> None:
    """Each consumer's cold start: its start (a process or a container) to the runtime's first
    poll, i.e. the handler's module imported, and its first invocation. Written to `report_file`
    (README "Run on AWS Lambda" quotes them) and printed with -s; never asserted, as tests never
    assert on wall time."""
    report = {
        name: {
            "start_to_first_poll_seconds": function.init_seconds,
            "first_invocation_seconds": function.first_invocation_seconds,
        }
        for name, function in (("processor", functions.processor), ("sender", functions.sender))
    }
    report_file.parent.mkdir(parents=True, exist_ok=True)
    report_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"cold starts ({report_file.name}): {report}")  # noqa: T201


async def carry_a_payment_through(pipeline: Pipeline, functions: Functions, endpoint: str) -> None:
    """The journey of the module's docstring; fails at the first step that goes wrong."""
    with Receiver() as receiver:
        merchant = await pipeline.onboard()
        created = await pipeline.api.post(
            "/webhook-endpoints",
            json={"url": receiver.url("/hooks"), "enabledEvents": ["payment.completed"]},
            headers=merchant.headers,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["data"]["secret"]
        # The merchant refuses the first attempt: the retry is the scheduled handler's.
        receiver.script("/hooks", Reply(500), then=Reply(200))

        payment = await pipeline.card_payment(merchant, "4242424242424242")

        # The processor: the payment's payment.initiated, plus a poison record.
        initiated = await records_until(pipeline, endpoint, PROCESSING_QUEUE, "payment.initiated")
        poison = poison_record(initiated[0]["eventSourceARN"])
        answer = await asyncio.to_thread(
            functions.processor.invoke, {"Records": [*initiated, poison]}
        )
        assert answer == {"batchItemFailures": [{"itemIdentifier": poison["messageId"]}]}, (
            functions.processor.output()
        )
        await asyncio.to_thread(delete, endpoint, pipeline, PROCESSING_QUEUE, initiated)
        completed = await pipeline.wait_for_payment(merchant, payment["id"])
        assert completed["status"] == "completed"

        # The sender: every event the webhook queue got, plus a poison record.
        events = await records_until(pipeline, endpoint, WEBHOOK_QUEUE, "payment.completed")
        poison = poison_record(events[0]["eventSourceARN"])
        answer = await asyncio.to_thread(functions.sender.invoke, {"Records": [*events, poison]})
        assert answer == {"batchItemFailures": [{"itemIdentifier": poison["messageId"]}]}, (
            functions.sender.output()
        )
        first = receiver.requests("/hooks")
        assert len(first) == 1, functions.sender.output()
        assert verify(secret, first[0])["data"]["payment"]["id"] == payment["id"]

        # The retry is due RETRY_AFTER_SECONDS later; the scheduled handler sends it.
        await asyncio.sleep(RETRY_AFTER_SECONDS + 0.5)
        answer = await asyncio.to_thread(functions.retries.invoke, scheduled_event())
        assert answer == {"status": "ok"}, functions.retries.output()
        sent = receiver.requests("/hooks")
        assert len(sent) == 2, functions.retries.output()
        retried = verify(secret, sent[1])
        assert retried["type"] == "payment.completed"
        assert retried["data"]["payment"]["status"] == "completed"
