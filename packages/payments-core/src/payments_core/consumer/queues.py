"""SQS queue helpers for consumers: a long-poll-safe client, names to URLs, attributes."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from botocore.config import Config

from payments_core.aws.clients import DEFAULT_CLIENT_CONFIG, AwsClient, AwsContext
from payments_core.aws.errors import aws_errors

DEFAULT_VISIBILITY_TIMEOUT = 30


@asynccontextmanager
async def polling_sqs_client(aws: AwsContext, *, wait_seconds: int) -> AsyncIterator[AwsClient]:
    """An SQS client whose read timeout outlasts a long poll (the shared default is 10 s)."""
    options = dict(aws.client_options)
    base: Config = options.get("config") or DEFAULT_CLIENT_CONFIG
    options["config"] = base.merge(Config(read_timeout=wait_seconds + 10))
    async with aws.session.client("sqs", **options) as client:
        yield client


def is_queue_url(queue: str) -> bool:
    return queue.startswith(("https://", "http://"))


async def resolve_queue_url(sqs: AwsClient, queue: str) -> str:
    if is_queue_url(queue):
        return queue
    with aws_errors(f"sqs:GetQueueUrl {queue}"):
        response = await sqs.get_queue_url(QueueName=queue)
    return str(response["QueueUrl"])


async def queue_visibility_timeout(sqs: AwsClient, queue_url: str) -> int:
    with aws_errors("sqs:GetQueueAttributes"):
        response = await sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"]
        )
    raw = str(response.get("Attributes", {}).get("VisibilityTimeout", ""))
    return int(raw) if raw.isdigit() else DEFAULT_VISIBILITY_TIMEOUT


async def queue_max_receive_count(sqs: AwsClient, queue_url: str) -> int | None:
    """The redrive policy's maxReceiveCount: receives before SQS moves a message to the DLQ."""
    with aws_errors("sqs:GetQueueAttributes"):
        response = await sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]
        )
    raw = response.get("Attributes", {}).get("RedrivePolicy")
    try:
        count = int(json.loads(raw)["maxReceiveCount"]) if raw else None
    except (ValueError, KeyError, TypeError):
        return None
    return count if count is not None and count > 0 else None


def queue_label(queue: str) -> str:
    """A queue's name for metric labels, also when it is configured as a URL (never the URL)."""
    return queue.rstrip("/").rsplit("/", 1)[-1]
