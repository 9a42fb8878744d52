"""`python -m payments_webhook_sender` as a real process: SNS → queue → webhook, health, SIGTERM,
and the one line a missing setting stops it with."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from payments_core.aws.clients import AwsContext
from payments_core.aws.provisioning import ProvisionedResources
from payments_core.aws.topology import WEBHOOK_QUEUE
from payments_devstack.processes import find_free_port
from tests.api.support import WEBHOOK_ENCRYPTION_KEY
from tests.core.consumer.support import eventually, queue_depth
from tests.webhooks.support import (
    Receiver,
    Sessions,
    create_endpoint,
    delivery_of,
    finished,
    health_status,
    metrics_text,
    record_event,
    verify,
)


async def publish(aws: AwsContext, topic_arn: str, body: dict[str, object]) -> None:
    async with aws.client("sns") as sns:
        await sns.publish(
            TopicArn=topic_arn,
            Message=json.dumps(body),
            MessageAttributes={"type": {"DataType": "String", "StringValue": str(body["type"])}},
        )


def sender_environment(database_url: str, moto_endpoint: str, health_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "WEBHOOK_ENCRYPTION_KEY": WEBHOOK_ENCRYPTION_KEY,
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "HEALTH_PORT": str(health_port),
        "SQS_WAIT_SECONDS": "1",
        "LOG_FORMAT": "json",
    }


@pytest.mark.slow
async def test_the_process_delivers_a_published_event_and_exits_cleanly_on_sigterm(
    topology: ProvisionedResources,
    aws: AwsContext,
    moto_endpoint: str,
    database_url: str,
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    tmp_path: Path,
) -> None:
    endpoint_id, secret = await create_endpoint(sessions, merchant_id, receiver.url("/process"))
    event = await record_event(sessions, merchant_id)
    port = find_free_port()
    log_file = tmp_path / "webhook-sender.log"
    with log_file.open("w") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "payments_webhook_sender",
            env=sender_environment(database_url, moto_endpoint, port),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:

        async def ready() -> bool:
            assert process.returncode is None, log_file.read_text()
            healthy = await asyncio.to_thread(health_status, port) == 200
            return healthy and "consumer.started" in log_file.read_text()

        await eventually(ready, within=30, what="the sender healthy and polling")
        await publish(aws, topology.topic_arn, event.envelope())
        await eventually(
            lambda: finished(sessions, event.id, endpoint_id), within=20, what="the webhook"
        )
        [request] = receiver.requests("/process")
        assert verify(secret, request) == event.envelope()
        assert request.headers["webhook-id"] == event.id
        metrics = await asyncio.to_thread(metrics_text, port)

        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None and delivery.status == "succeeded"
    assert 'payments_webhook_attempts_total{outcome="success"} 1.0' in metrics
    assert 'payments_webhook_deliveries_ended_total{status="succeeded"} 1.0' in metrics
    assert 'payments_consumer_messages_total{outcome="handled",queue="payment-webhook-queue"}' in (
        metrics
    )
    async with aws.client("sqs") as sqs:
        queue_url = topology.queues[WEBHOOK_QUEUE].url
        assert await queue_depth(sqs, queue_url) == (0, 0)  # deleted once its row committed
    logged = log_file.read_text()
    assert '"event": "webhooks.attempt"' in logged
    assert '"event": "webhooks.stopping"' in logged
    assert '"event": "consumer.stopped"' in logged


@pytest.mark.parametrize(
    ("key", "line"),
    [
        (None, "configuration error: WEBHOOK_ENCRYPTION_KEY is required but not set"),
        ("c2hvcnQ=", "configuration error: WEBHOOK_ENCRYPTION_KEY is invalid: "),
    ],
    ids=["missing", "malformed"],
)
def test_a_missing_or_malformed_key_stops_the_process_with_one_line(
    key: str | None, line: str
) -> None:
    env = {name: value for name, value in os.environ.items() if name != "WEBHOOK_ENCRYPTION_KEY"}
    env["DATABASE_URL"] = "postgresql://unused@localhost/unused"
    if key is not None:
        env["WEBHOOK_ENCRYPTION_KEY"] = key
    result = subprocess.run(
        [sys.executable, "-m", "payments_webhook_sender"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    [only] = result.stderr.strip().splitlines()
    assert only.startswith(line)
    assert "c2hvcnQ" not in only  # the value itself is never echoed
