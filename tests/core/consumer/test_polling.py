"""The long-polling loop against a real moto server."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from prometheus_client import REGISTRY

from payments_core.aws.clients import AwsClient, AwsContext
from payments_core.aws.provisioning import ProvisionedResources, provision
from payments_core.aws.topology import PROCESSING_QUEUE
from payments_core.consumer.envelope import parse_event
from payments_core.consumer.polling import PollingConfig, SqsPoller
from payments_core.consumer.queues import polling_sqs_client
from payments_core.consumer.records import SqsRecord
from payments_devstack.moto_server import MotoServer
from tests.core.consumer.conftest import MAX_RECEIVE_COUNT
from tests.core.consumer.support import (
    EventLog,
    eventually,
    payment_initiated,
    queue_depth,
    send,
)

# Short waits keep the tests quick; the loop is the same with the production 20 s.
WAIT_SECONDS = 1


def config(**overrides: object) -> PollingConfig:
    values: dict[str, object] = {
        "queue": PROCESSING_QUEUE,
        "concurrency": 4,
        "wait_seconds": WAIT_SECONDS,
        "visibility_timeout": 1,
        "initial_backoff": 0.2,
        "max_backoff": 0.5,
    }
    values.update(overrides)
    return PollingConfig(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def running(
    aws: AwsContext,
    handle_one: Callable[[SqsRecord], Awaitable[None]],
    polling: PollingConfig,
) -> AsyncIterator[tuple[SqsPoller, "asyncio.Task[None]"]]:
    async with polling_sqs_client(aws, wait_seconds=polling.wait_seconds) as sqs:
        poller = SqsPoller(sqs, handle_one, polling)
        task = asyncio.create_task(poller.run())
        try:
            yield poller, task
        finally:
            poller.stop()
            await asyncio.wait_for(task, timeout=15)


async def test_deletes_successes_and_poison_ends_in_the_dlq_logged_once(
    topology: ProvisionedResources, aws: AwsContext, sqs: AwsClient, logs: EventLog
) -> None:
    queue = topology.queues[PROCESSING_QUEUE]
    handled: list[str] = []

    async def handle(record: SqsRecord) -> None:
        handled.append(record.message_id)
        parse_event(record.body)

    good_ids = [await send(sqs, queue.url, payment_initiated(f"pay_{n}")) for n in range(3)]
    poison_id = await send(sqs, queue.url, "{not json")
    dead_metric = "payments_consumer_dead_lettered_total"
    dead_before = REGISTRY.get_sample_value(dead_metric, {"queue": PROCESSING_QUEUE}) or 0.0

    async with running(aws, handle, config()) as (poller, _):

        async def dead_lettered() -> bool:
            return (await queue_depth(sqs, queue.dlq_url))[0] == 1

        await eventually(dead_lettered, within=15, what="the poison message in the DLQ")
        await eventually(lambda: poller.stats.deleted == 3, what="three deletions")

    assert await queue_depth(sqs, queue.url) == (0, 0)
    assert sorted(set(handled)) == sorted([*good_ids, poison_id])
    assert handled.count(poison_id) == MAX_RECEIVE_COUNT
    assert poller.max_receive_count == MAX_RECEIVE_COUNT
    assert REGISTRY.get_sample_value(dead_metric, {"queue": PROCESSING_QUEUE}) == dead_before + 1
    dead = await sqs.receive_message(QueueUrl=queue.dlq_url, MaxNumberOfMessages=10)
    assert [message["MessageId"] for message in dead["Messages"]] == [poison_id]
    poison_logs = [entry for entry in logs if entry["event"] == "consumer.poison_message"]
    assert poison_logs == [
        {
            "event": "consumer.poison_message",
            "log_level": "error",
            "message_id": poison_id,
            "reason": "body is not JSON",
        }
    ]
    assert "{not json" not in repr(logs)


async def test_visibility_is_extended_while_a_record_is_slow(
    topology: ProvisionedResources, aws: AwsContext, sqs: AwsClient
) -> None:
    queue = topology.queues[PROCESSING_QUEUE]
    calls: list[str] = []
    started = asyncio.Event()

    async def slow(record: SqsRecord) -> None:
        calls.append(record.message_id)
        started.set()
        await asyncio.sleep(3.5)  # more than three visibility timeouts

    message_id = await send(sqs, queue.url, payment_initiated("pay_slow"))
    async with running(aws, slow, config(visibility_timeout=1)) as (poller, _):
        await asyncio.wait_for(started.wait(), timeout=10)
        # Another consumer polling all along never sees the message.
        for _ in range(4):
            stolen = await sqs.receive_message(
                QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            assert stolen.get("Messages", []) == []
        await eventually(lambda: poller.stats.deleted == 1, what="deletion")

    assert calls == [message_id]
    assert await queue_depth(sqs, queue.url) == (0, 0)


async def test_stop_drains_in_flight_work_and_hands_back_what_the_open_poll_brings(
    topology: ProvisionedResources, aws: AwsContext, sqs: AwsClient
) -> None:
    queue = topology.queues[PROCESSING_QUEUE]
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(record: SqsRecord) -> None:
        started.set()
        await asyncio.sleep(1.0)
        finished.append(record.message_id)

    first = await send(sqs, queue.url, payment_initiated("pay_drain"))
    async with polling_sqs_client(aws, wait_seconds=3) as client:
        # A 30 s visibility: a message the open poll took and nobody handed back would stay
        # hidden that long (an abandoned long poll still takes what arrives until it ends).
        poller = SqsPoller(
            sqs=client, handle_one=slow, config=config(wait_seconds=3, visibility_timeout=30)
        )
        task = asyncio.create_task(poller.run())
        await asyncio.wait_for(started.wait(), timeout=10)
        await asyncio.sleep(0.3)  # the next long poll is open: a free slot asked for more
        assert poller.healthy
        poller.stop()
        assert not poller.healthy
        later = await send(sqs, queue.url, payment_initiated("pay_after_stop"))
        # The drain waits for the open poll, which ends within its wait.
        await asyncio.wait_for(task, timeout=3 + 5)

    assert finished == [first], "received during the stop, so handed back, not handled"
    assert poller.stats.deleted == 1
    assert poller.stats.handed_back == 1
    response = await sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10)
    assert [message["MessageId"] for message in response["Messages"]] == [later]


async def test_a_drain_that_runs_out_of_time_hands_the_record_back(
    topology: ProvisionedResources, aws: AwsContext, sqs: AwsClient
) -> None:
    queue = topology.queues[PROCESSING_QUEUE]
    started = asyncio.Event()

    async def stuck(record: SqsRecord) -> None:
        started.set()
        await asyncio.sleep(60)

    message_id = await send(sqs, queue.url, payment_initiated("pay_stuck"))
    async with running(aws, stuck, config(visibility_timeout=30, drain_timeout=0.3)) as (
        poller,
        task,
    ):
        await asyncio.wait_for(started.wait(), timeout=10)
        poller.stop()
        await asyncio.wait_for(task, timeout=5)

    # Visible again at once (not after its 30 s visibility) and never deleted.
    response = await sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10)
    assert [message["MessageId"] for message in response["Messages"]] == [message_id]


async def test_survives_a_missing_queue_and_starts_once_it_exists(
    moto_server: MotoServer, aws: AwsContext, sqs: AwsClient, logs: EventLog
) -> None:
    moto_server.reset()
    handled: list[str] = []

    async def handle(record: SqsRecord) -> None:
        handled.append(json.loads(record.body)["data"]["payment"]["id"])

    async with running(aws, handle, config()) as (poller, _):
        await eventually(
            lambda: any(entry["event"] == "consumer.queue_unavailable" for entry in logs),
            what="a logged failure",
        )
        topology = await provision(aws, max_receive_count=MAX_RECEIVE_COUNT)
        await send(sqs, topology.queues[PROCESSING_QUEUE].url, payment_initiated("pay_late"))
        await eventually(lambda: handled == ["pay_late"], what="handling")
        assert poller.healthy
