"""Consumer metrics: records by outcome per queue, and the ones their last receive dead-letters."""

from prometheus_client import REGISTRY

from payments_core.consumer.batch import handle_batch
from payments_core.consumer.errors import PoisonMessage
from payments_core.consumer.lambda_entry import process_event, source_queue
from payments_core.consumer.queues import queue_label
from payments_core.consumer.records import SqsRecord
from tests.core.consumer.support import lambda_record

QUEUE = "metrics-test-queue"


def messages(outcome: str) -> float:
    labels = {"queue": QUEUE, "outcome": outcome}
    return REGISTRY.get_sample_value("payments_consumer_messages_total", labels) or 0.0


def dead_lettered() -> float:
    labels = {"queue": QUEUE}
    return REGISTRY.get_sample_value("payments_consumer_dead_lettered_total", labels) or 0.0


def record(message_id: str, receive_count: int) -> SqsRecord:
    return SqsRecord.from_lambda(lambda_record(message_id, "{}", receive_count=receive_count))


async def handle(item: SqsRecord) -> None:
    if item.message_id.startswith("boom"):
        raise RuntimeError("downstream unavailable")
    if item.message_id.startswith("poison"):
        raise PoisonMessage("body is not JSON")


async def test_outcomes_are_counted_per_queue_and_last_receives_dead_letter() -> None:
    before = {outcome: messages(outcome) for outcome in ("handled", "failed", "poison")}
    dead_before = dead_lettered()
    batch = [
        record("ok-1", 1),
        record("ok-2", 3),  # a success on the last receive is not dead-lettered
        record("boom-1", 1),
        record("boom-2", 3),
        record("poison-1", 1),
        record("poison-2", 3),
    ]

    await handle_batch(batch, handle, concurrency=3, queue=QUEUE, max_receive_count=3)

    assert messages("handled") == before["handled"] + 2
    assert messages("failed") == before["failed"] + 2
    assert messages("poison") == before["poison"] + 2
    assert dead_lettered() == dead_before + 2


def test_queue_labels_are_names_never_urls() -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/payment-webhook-queue"
    assert queue_label(url) == "payment-webhook-queue"
    assert queue_label("payment-processing-queue") == "payment-processing-queue"


async def test_a_lambda_batch_is_counted_under_its_source_queue() -> None:
    labels = {"queue": "payment-processing-queue", "outcome": "handled"}

    def handled() -> float:
        return REGISTRY.get_sample_value("payments_consumer_messages_total", labels) or 0.0

    before = handled()

    async def succeed(_: SqsRecord) -> None:
        return None

    event = {"Records": [lambda_record("lambda-queue-1", "{}")]}
    await process_event(event, succeed, concurrency=1)
    assert handled() == before + 1
    assert source_queue({"Records": []}) == "unknown"
