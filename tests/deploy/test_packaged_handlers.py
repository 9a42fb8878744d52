"""The packaged zips, run as Lambda runs them, handle real SQS events end to end.

A payment made through the public API completes through the packaged processor; its webhook is
recorded and sent by the packaged sender, whose first attempt the merchant refuses; the packaged
scheduled handler then sends the retry. Each batch also carries a poison record, which comes back
as the batch's only item failure. The worker, the API and its outbox relay run in the test (they
are not Lambda functions); the settings the sender keeps secret come from Secrets Manager.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from payments_core.aws.topology import PROCESSING_QUEUE, WEBHOOK_QUEUE
from payments_devstack.lambda_package.functions import FUNCTIONS
from payments_devstack.moto_server import MotoServer
from tests.api.support import WEBHOOK_ENCRYPTION_KEY
from tests.deploy.conftest import LambdaZips
from tests.deploy.packaged import PackagedFunction, running_function, unzip
from tests.deploy.sqs_events import lambda_record, poison_record, scheduled_event
from tests.e2e.support import Pipeline, Sessions, eventually, running_pipeline
from tests.webhooks.support import Receiver, Reply, verify

PROCESSOR = "payments-processor"
SENDER = "payments-webhook-sender"
HANDLERS = {f.name: f.handlers for f in FUNCTIONS}
RETRY_AFTER_SECONDS = 2  # the sender's first retry, in its WEBHOOK_RETRY_SCHEDULE
COLD_START_REPORT = Path("build/test-artifacts/lambda-cold-start.json")


@dataclass
class Functions:
    processor: PackagedFunction
    sender: PackagedFunction
    retries: PackagedFunction


@pytest.fixture
async def lambda_pipeline(
    database_url: str, moto_server: MotoServer, temporal_address: str, e2e_sessions: Sessions
) -> AsyncIterator[Pipeline]:
    """API (relay on) and worker in the test; the processor is the packaged one."""
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
def secret_arns(moto_server: MotoServer, database_url: str) -> dict[str, str]:
    """The sender's secrets where the template puts them: Secrets Manager."""
    client = boto3.client(
        "secretsmanager", endpoint_url=moto_server.endpoint_url, region_name="us-east-1"
    )
    values = {"DATABASE_URL": database_url, "WEBHOOK_ENCRYPTION_KEY": WEBHOOK_ENCRYPTION_KEY}
    return {
        f"{name}_SECRET_ARN": client.create_secret(Name=f"payments/{name}", SecretString=value)[
            "ARN"
        ]
        for name, value in values.items()
    }


@pytest.fixture
def functions(
    lambda_zips: LambdaZips,
    lambda_runtime_root: Path,
    lambda_pipeline: Pipeline,
    moto_server: MotoServer,
    secret_arns: dict[str, str],
    tmp_path: Path,
) -> Iterator[Functions]:
    aws = {
        "AWS_ENDPOINT_URL": moto_server.endpoint_url,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "LOG_FORMAT": "json",
        "HEALTH_PORT": "0",
    }
    processor_env = {
        **aws,
        "TEMPORAL_ADDRESS": lambda_pipeline.temporal_address,
        "TEMPORAL_TASK_QUEUE": lambda_pipeline.task_queue,
    }
    sender_env = {
        **aws,
        **secret_arns,
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "WEBHOOK_RETRY_SCHEDULE": f"{RETRY_AFTER_SECONDS},{RETRY_AFTER_SECONDS}",
    }
    processor_root = unzip(lambda_zips.path(PROCESSOR), tmp_path / "processor-task")
    sender_root = unzip(lambda_zips.path(SENDER), tmp_path / "sender-task")

    def start(name: str, handler: str, root: Path, env: dict[str, str]) -> Any:
        return running_function(
            name, handler, root, lambda_runtime_root, env, tmp_path / f"{name}.log"
        )

    with (
        start(PROCESSOR, HANDLERS[PROCESSOR][0], processor_root, processor_env) as processor,
        start(SENDER, HANDLERS[SENDER][0], sender_root, sender_env) as sender,
        start("payments-webhook-retries", HANDLERS[SENDER][1], sender_root, sender_env) as retries,
    ):
        yield Functions(processor, sender, retries)


def receive_records(pipeline: Pipeline, endpoint: str, queue: str) -> list[dict[str, Any]]:
    """Everything the queue holds now, as the event source mapping would hand it over (and, as
    it does for the records a batch does not report, deleted once handled: see `delete`)."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    url = pipeline.resources.queue_urls[queue]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
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


def report_cold_starts(functions: Functions) -> None:
    """Each function's cold start, measured here (README "Run on AWS Lambda" quotes it); with
    -s it is printed too. Not asserted: tests never assert on wall time."""
    report = {
        name: {
            "import_seconds": function.init_seconds,
            "first_invocation_seconds": function.first_invocation_seconds,
        }
        for name, function in (("processor", functions.processor), ("sender", functions.sender))
    }
    COLD_START_REPORT.parent.mkdir(parents=True, exist_ok=True)
    COLD_START_REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"cold starts: {report}")  # noqa: T201


async def test_packaged_handlers_carry_a_payment_to_its_delivered_webhook(
    lambda_pipeline: Pipeline, functions: Functions, moto_server: MotoServer
) -> None:
    pipeline, endpoint = lambda_pipeline, moto_server.endpoint_url
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

    await asyncio.to_thread(report_cold_starts, functions)
