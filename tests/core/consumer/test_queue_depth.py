"""Queue and DLQ depth gauges, and the poller's heartbeat, against a real moto server."""

import asyncio
import time

from prometheus_client import REGISTRY

from payments_core.aws.clients import AwsClient, AwsContext
from payments_core.aws.provisioning import ProvisionedResources
from payments_core.aws.topology import PROCESSING_QUEUE, WEBHOOK_QUEUE, dead_letter_queue_name
from payments_core.consumer.polling import PollingConfig, SqsPoller
from payments_core.consumer.queue_depth import (
    QueueDepthSampler,
    dead_letter_queue_url,
    sampling_queue_depth,
)
from payments_core.consumer.queues import polling_sqs_client
from payments_core.consumer.records import SqsRecord
from tests.core.consumer.support import eventually, payment_initiated, send

DEPTH = "payments_queue_messages"
HEARTBEAT = "payments_consumer_last_poll_timestamp_seconds"


def depth(queue: str, state: str, *, dead_letter: bool) -> float | None:
    labels = {"queue": queue, "state": state, "dead_letter": "true" if dead_letter else "false"}
    return REGISTRY.get_sample_value(DEPTH, labels)


async def test_samples_visible_and_in_flight_of_the_queue_and_its_dlq(
    topology: ProvisionedResources, sqs: AwsClient
) -> None:
    queue = topology.queues[PROCESSING_QUEUE]
    for number in range(3):
        await send(sqs, queue.url, payment_initiated(f"pay_{number}"))
    await send(sqs, queue.dlq_url, payment_initiated("pay_dead"))
    # One message received and not deleted: in flight until its visibility ends.
    received = await sqs.receive_message(
        QueueUrl=queue.url, MaxNumberOfMessages=1, VisibilityTimeout=300
    )
    assert len(received["Messages"]) == 1

    await QueueDepthSampler(sqs, PROCESSING_QUEUE).sample_once()

    dlq = dead_letter_queue_name(PROCESSING_QUEUE)
    assert depth(PROCESSING_QUEUE, "visible", dead_letter=False) == 2
    assert depth(PROCESSING_QUEUE, "in_flight", dead_letter=False) == 1
    assert depth(dlq, "visible", dead_letter=True) == 1
    assert depth(dlq, "in_flight", dead_letter=True) == 0


async def test_the_dlq_is_the_one_the_redrive_policy_names(
    topology: ProvisionedResources, sqs: AwsClient
) -> None:
    queue = topology.queues[WEBHOOK_QUEUE]
    assert await dead_letter_queue_url(sqs, queue.url) == queue.dlq_url
    plain = (await sqs.create_queue(QueueName="queue-without-redrive"))["QueueUrl"]
    assert await dead_letter_queue_url(sqs, plain) is None


async def test_a_queue_without_dlq_is_sampled_alone(sqs: AwsClient) -> None:
    url = (await sqs.create_queue(QueueName="lonely-queue"))["QueueUrl"]
    await send(sqs, url, "{}")

    await QueueDepthSampler(sqs, url).sample_once()

    assert depth("lonely-queue", "visible", dead_letter=False) == 1
    assert depth("lonely-queue-dlq", "visible", dead_letter=True) is None


async def test_samples_in_the_background_until_the_block_ends(
    topology: ProvisionedResources, sqs: AwsClient
) -> None:
    queue = topology.queues[WEBHOOK_QUEUE]
    async with sampling_queue_depth(sqs, WEBHOOK_QUEUE, interval=0.1):
        await eventually(
            lambda: depth(WEBHOOK_QUEUE, "visible", dead_letter=False) == 0, what="first sample"
        )
        await send(sqs, queue.url, payment_initiated("pay_later"))
        await eventually(
            lambda: depth(WEBHOOK_QUEUE, "visible", dead_letter=False) == 1, what="a new sample"
        )
    await send(sqs, queue.url, payment_initiated("pay_after"))
    await asyncio.sleep(0.3)  # three intervals: a sampler still running would see it
    assert depth(WEBHOOK_QUEUE, "visible", dead_letter=False) == 1


async def test_each_returning_receive_moves_the_heartbeat_idle_polls_included(
    topology: ProvisionedResources, aws: AwsContext
) -> None:
    before = time.time()

    async def never_called(record: SqsRecord) -> None:
        raise AssertionError("the queue is empty")

    config = PollingConfig(queue=PROCESSING_QUEUE, wait_seconds=1, visibility_timeout=1)
    async with polling_sqs_client(aws, wait_seconds=1) as client:
        poller = SqsPoller(client, never_called, config)
        task = asyncio.create_task(poller.run())
        try:

            def beat() -> float:
                return REGISTRY.get_sample_value(HEARTBEAT, {"queue": PROCESSING_QUEUE}) or 0.0

            await eventually(lambda: beat() >= before, what="a first heartbeat")
            first = beat()
            await eventually(lambda: beat() > first, what="a heartbeat after an empty poll")
        finally:
            poller.stop()
            await asyncio.wait_for(task, timeout=15)
    assert poller.stats.received == 0
