"""Helpers shared by the consumer and processor tests: log capture, moto queues, SQS shapes."""

import asyncio
import inspect
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.testing import LogCapture

from payments_core.aws.clients import AwsClient
from payments_core.events.envelope import Event, EventType

EventLog = list[MutableMapping[str, Any]]


@contextmanager
def captured_logs() -> Iterator[EventLog]:
    """Every structlog event emitted inside, as dicts; the previous configuration is restored.

    Caching is turned off so no logger keeps this capture (or an earlier configuration).
    """
    previous = structlog.get_config()
    capture = LogCapture()
    structlog.configure(
        processors=[capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        yield capture.entries
    finally:
        structlog.configure(**previous)


def envelope(event_type: EventType, data: dict[str, Any]) -> dict[str, Any]:
    return Event.new(event_type, uuid.uuid4(), data).envelope()


def payment_initiated(payment_id: str) -> dict[str, Any]:
    return envelope(EventType.PAYMENT_INITIATED, {"payment": {"id": payment_id}})


def refund_created(refund_id: str, payment_id: str) -> dict[str, Any]:
    return envelope(
        EventType.REFUND_CREATED,
        {"refund": {"id": refund_id, "paymentId": payment_id}, "payment": {"id": payment_id}},
    )


async def send(sqs: AwsClient, queue_url: str, body: str | dict[str, Any]) -> str:
    """Send as SNS raw delivery would: the body plus the `type` attribute when there is one."""
    text = body if isinstance(body, str) else json.dumps(body)
    attributes = {}
    if isinstance(body, dict):
        attributes["type"] = {"DataType": "String", "StringValue": str(body["type"])}
    response = await sqs.send_message(
        QueueUrl=queue_url, MessageBody=text, MessageAttributes=attributes
    )
    return str(response["MessageId"])


async def queue_depth(sqs: AwsClient, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    response = await sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    attributes = response["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


async def eventually(
    check: Callable[[], Awaitable[bool] | bool], *, within: float = 10.0, what: str = "condition"
) -> None:
    """Poll `check` (plain or async) until it is true."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if await result if inspect.isawaitable(result) else result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def lambda_record(message_id: str, body: str, *, receive_count: int = 1) -> dict[str, Any]:
    """A record as Lambda's SQS event source hands it over."""
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1767225600000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1767225600001",
        },
        "messageAttributes": {
            "type": {"stringValue": "payment.initiated", "dataType": "String"},
        },
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:payment-processing-queue",
        "awsRegion": "us-east-1",
    }
