"""Ceiling (b): the AWS emulator's rate for N payments' events, handled as `make up` does.

The same topic, subscriptions and filter policies, provisioned in another region of the same
emulator so the stack's consumers never see them. The events (payment.initiated, .processing,
.completed per payment) go out as the outbox relay sends them: claims of the relay's batch size,
published by its publisher (10 per PublishBatch, its concurrency). The two queues our services
read are read by the consumers' own polling loop (`SqsPoller`, their concurrency and long-poll
wait, deleting each message once "handled"), and the two nobody reads locally are kept short by
`make up`'s own `QueuePurger` with its settings: the emulator's SendMessage costs time in
proportion to a queue's depth, so a ceiling that let them fill would bound nothing we run.
"""

import asyncio
import os
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from botocore.exceptions import ClientError

from payments_core.aws.clients import AwsContext
from payments_core.aws.provisioning import provision
from payments_core.aws.topology import PROCESSING_QUEUE, WEBHOOK_QUEUE
from payments_core.consumer.polling import PollingConfig, SqsPoller
from payments_core.consumer.queues import polling_sqs_client
from payments_core.consumer.records import SqsRecord
from payments_core.consumer.settings import ConsumerSettings
from payments_core.events.envelope import Event, EventType
from payments_core.outbox.relay import DEFAULT_BATCH_SIZE
from payments_core.outbox.repository import PendingMessage
from payments_core.outbox.sns_publisher import SnsBatchPublisher
from payments_core.settings import ProcessorSettings, ServiceSettings, WebhookSenderSettings
from payments_devstack.unconsumed_queues import QueuePurger, unconsumed_queue_names

CEILING_REGION = "eu-west-1"
EVENTS_PER_PAYMENT = (
    EventType.PAYMENT_INITIATED,
    EventType.PAYMENT_PROCESSING,
    EventType.PAYMENT_COMPLETED,
)
# Each consumed queue with its consumer's default concurrency, as `make up` runs them.
CONSUMERS = {
    PROCESSING_QUEUE: ProcessorSettings.model_fields["processor_concurrency"].default,
    WEBHOOK_QUEUE: WebhookSenderSettings.model_fields["webhook_queue_concurrency"].default,
}
PUBLISH_ATTEMPTS = 5
# No message for this long once all were published: the rest are not coming.
QUIET_SECONDS = 10.0


def aws_ceiling(endpoint_url: str, payments: int) -> dict[str, Any]:
    # The emulator takes any credentials; these keep the default chain from looking further.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    return asyncio.run(_publish_and_consume(endpoint_url, payments))


class _Counter:
    """A consumer's handler that only counts, and says when it has seen them all."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.seen: set[str] = set()
        self.all_seen = asyncio.Event()
        self.last_seen_at = time.perf_counter()

    async def __call__(self, record: SqsRecord) -> None:
        self.seen.add(record.message_id)
        self.last_seen_at = time.perf_counter()
        if len(self.seen) >= self.expected:
            self.all_seen.set()

    async def wait(self) -> None:
        """Until every message came, or none came for a while: one run saw the emulator drop
        one (README, Performance), and a missing message must not hang the bench."""
        while not self.all_seen.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self.all_seen.wait(), QUIET_SECONDS)
            if time.perf_counter() - self.last_seen_at > QUIET_SECONDS:
                return


async def _publish_and_consume(endpoint_url: str, payments: int) -> dict[str, Any]:
    settings = ServiceSettings(aws_endpoint_url=endpoint_url, aws_region=CEILING_REGION)
    unconsumed = unconsumed_queue_names(CONSUMERS)
    resources = await provision(settings)
    purger = QueuePurger(
        endpoint_url, CEILING_REGION, [resources.queues[name].url for name in unconsumed]
    )
    aws = AwsContext.from_settings(settings)
    messages = _events(payments)
    expected = {PROCESSING_QUEUE: payments, WEBHOOK_QUEUE: len(messages)}
    wait_seconds = ConsumerSettings().sqs_wait_seconds
    async with (
        aws.client("sns") as sns,
        polling_sqs_client(aws, wait_seconds=wait_seconds) as sqs,
    ):
        counters = {name: _Counter(count) for name, count in expected.items()}
        pollers = [
            SqsPoller(
                sqs,
                counters[name],
                PollingConfig(
                    resources.queues[name].url,
                    concurrency=CONSUMERS[name],
                    wait_seconds=wait_seconds,
                ),
            )
            for name in expected
        ]
        polling = [asyncio.create_task(poller.run()) for poller in pollers]
        purger.start()
        started = time.perf_counter()
        try:
            await _publish_as_the_relay(SnsBatchPublisher(sns, resources.topic_arn), messages)
            await asyncio.gather(*(counter.wait() for counter in counters.values()))
            elapsed = max(counter.last_seen_at for counter in counters.values()) - started
        finally:
            purger.stop()
            for poller in pollers:
                poller.stop()
            await asyncio.gather(*polling, return_exceptions=True)
        for name in unconsumed:  # leave the emulator as we found it, if it lets us
            with suppress(ClientError):  # one PurgeQueue per queue a minute
                await sqs.purge_queue(QueueUrl=resources.queues[name].url)
    return {
        "payments": payments,
        "events": len(messages),
        "seconds": round(elapsed, 3),
        "payments_per_s": round(payments / elapsed, 2),
        "region": CEILING_REGION,
        "lost_by_the_emulator": sum(c.expected - len(c.seen) for c in counters.values()),
    }


async def _publish_as_the_relay(
    publisher: SnsBatchPublisher, messages: Sequence[PendingMessage]
) -> None:
    """Claims of the relay's batch size, one after the other; what failed is published again."""
    for offset in range(0, len(messages), DEFAULT_BATCH_SIZE):
        claim = list(messages[offset : offset + DEFAULT_BATCH_SIZE])
        for _ in range(PUBLISH_ATTEMPTS):
            outcome = await publisher.publish(claim)
            claim = [message for message in claim if message.id in outcome.failed]
            if not claim:
                break
        else:
            raise SystemExit(f"the emulator refused {len(claim)} publishes, 5 times each")


def _events(payments: int) -> list[PendingMessage]:
    """Each payment's events in the order the stack writes them (all initiated first, as a
    burst of creates does, then each payment's processing and completed)."""
    merchant = uuid.uuid4()
    payloads = [_payment_object(index) for index in range(payments)]
    ordered = [(EventType.PAYMENT_INITIATED, payload) for payload in payloads]
    ordered += [
        (event_type, payload) for payload in payloads for event_type in EVENTS_PER_PAYMENT[1:]
    ]
    return [
        _pending(Event.new(event_type, merchant, {"payment": payload}))
        for event_type, payload in ordered
    ]


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
