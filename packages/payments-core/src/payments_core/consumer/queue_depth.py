"""Queue and DLQ depth as gauges, sampled by the process that consumes the queue.

SQS publishes these counts to CloudWatch only; alerts and dashboards read Prometheus, so each
consumer asks `GetQueueAttributes` every `SAMPLE_INTERVAL_SECONDS` for its queue and for the DLQ
named by the queue's redrive policy. Every replica samples the same queue: the gauges agree
across pods, and queries take their max. The age of the oldest message is not sampled: SQS's API
does not return it (it is a CloudWatch-only metric), and peeking at messages would move them.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import structlog

from payments_core.aws.clients import AwsClient
from payments_core.aws.errors import aws_errors
from payments_core.consumer.queues import queue_label, resolve_queue_url
from payments_core.telemetry.metrics import QUEUE_MESSAGES

log = structlog.get_logger("payments_core.consumer")

SAMPLE_INTERVAL_SECONDS = 15.0
VISIBLE = "ApproximateNumberOfMessages"
IN_FLIGHT = "ApproximateNumberOfMessagesNotVisible"


@dataclass(frozen=True, slots=True)
class QueueDepth:
    visible: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class SampledQueue:
    name: str
    url: str
    dead_letter: bool


async def queue_depth(sqs: AwsClient, queue_url: str) -> QueueDepth:
    with aws_errors("sqs:GetQueueAttributes"):
        response = await sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=[VISIBLE, IN_FLIGHT]
        )
    attributes = response.get("Attributes", {})
    return QueueDepth(int(attributes.get(VISIBLE, 0)), int(attributes.get(IN_FLIGHT, 0)))


async def dead_letter_queue_url(sqs: AwsClient, queue_url: str) -> str | None:
    """The URL of the redrive policy's `deadLetterTargetArn`, or None without a policy."""
    with aws_errors("sqs:GetQueueAttributes"):
        response = await sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]
        )
    raw = response.get("Attributes", {}).get("RedrivePolicy")
    try:
        target_arn = str(json.loads(raw)["deadLetterTargetArn"]) if raw else None
    except (ValueError, KeyError, TypeError):
        return None
    if not target_arn:
        return None
    # arn:aws:sqs:<region>:<account>:<name>; the DLQ may belong to another account.
    *_, account, name = target_arn.split(":")
    with aws_errors(f"sqs:GetQueueUrl {name}"):
        found = await sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
    return str(found["QueueUrl"])


class QueueDepthSampler:
    """Sets `payments_queue_messages` for one queue and its DLQ; `run()` until cancelled."""

    def __init__(
        self, sqs: AwsClient, queue: str, *, interval: float = SAMPLE_INTERVAL_SECONDS
    ) -> None:
        self._sqs = sqs
        self._queue = queue
        self._interval = interval
        self._sampled: list[SampledQueue] | None = None

    async def sample_once(self) -> None:
        for queue in await self._queues():
            depth = await queue_depth(self._sqs, queue.url)
            dead_letter = "true" if queue.dead_letter else "false"
            gauge = QUEUE_MESSAGES.labels
            gauge(queue=queue.name, state="visible", dead_letter=dead_letter).set(depth.visible)
            gauge(queue=queue.name, state="in_flight", dead_letter=dead_letter).set(depth.in_flight)

    async def run(self) -> None:
        while True:
            try:
                await self.sample_once()
            except Exception as error:
                # The gauges keep their last values; the consumer itself is not affected.
                log.warning(
                    "consumer.queue_depth_unavailable",
                    queue=self._queue,
                    error_type=type(error).__name__,
                    error=str(error),
                )
            await asyncio.sleep(self._interval)

    async def _queues(self) -> list[SampledQueue]:
        """The queue and its DLQ, looked up once (again after a failed lookup)."""
        if self._sampled is None:
            url = await resolve_queue_url(self._sqs, self._queue)
            sampled = [SampledQueue(queue_label(self._queue), url, dead_letter=False)]
            dlq_url = await dead_letter_queue_url(self._sqs, url)
            if dlq_url is not None:
                sampled.append(SampledQueue(queue_label(dlq_url), dlq_url, dead_letter=True))
            self._sampled = sampled
        return self._sampled


@asynccontextmanager
async def sampling_queue_depth(
    sqs: AwsClient, queue: str, *, interval: float = SAMPLE_INTERVAL_SECONDS
) -> AsyncIterator[QueueDepthSampler]:
    """Samples in the background for as long as the block runs."""
    sampler = QueueDepthSampler(sqs, queue, interval=interval)
    task = asyncio.create_task(sampler.run(), name=f"queue-depth-{queue_label(queue)}")
    try:
        yield sampler
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
