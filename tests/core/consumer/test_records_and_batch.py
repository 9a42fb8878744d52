"""Records from both SQS shapes, and a batch where each record succeeds or fails on its own."""

import asyncio
import json

import pytest

from payments_core.consumer.batch import handle_batch
from payments_core.consumer.envelope import parse_event
from payments_core.consumer.errors import PoisonMessage
from payments_core.consumer.lambda_entry import handle_event
from payments_core.consumer.records import MalformedRecord, SqsRecord
from payments_core.events.envelope import EventType
from tests.core.consumer.support import EventLog, lambda_record, payment_initiated

SECRET_BODY = '{"card": "private merchant data"'


def record(message_id: str, body: str = "{}", *, receive_count: int = 1) -> SqsRecord:
    return SqsRecord.from_lambda(lambda_record(message_id, body, receive_count=receive_count))


def test_boto3_and_lambda_shapes_give_the_same_record() -> None:
    boto3_message = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-1",
        "Body": "{}",
        "Attributes": {"ApproximateReceiveCount": "3"},
        "MessageAttributes": {
            "type": {"DataType": "String", "StringValue": "payment.initiated"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00"},
        },
        "MD5OfBody": "x",
    }
    lambda_message = lambda_record("m-1", "{}", receive_count=3)
    lambda_message["receiptHandle"] = "rh-1"

    from_boto3 = SqsRecord.from_boto3(boto3_message)
    from_lambda = SqsRecord.from_lambda(lambda_message)

    for parsed in (from_boto3, from_lambda):
        assert parsed.message_id == "m-1"
        assert parsed.receipt_handle == "rh-1"
        assert parsed.body == "{}"
        assert parsed.receive_count == 3
        assert not parsed.first_receive
        assert parsed.message_attributes == {"type": "payment.initiated"}


def test_record_without_receive_count_counts_as_first_and_never_shows_its_body() -> None:
    parsed = SqsRecord.from_boto3({"MessageId": "m-2", "ReceiptHandle": "h", "Body": SECRET_BODY})
    assert parsed.receive_count == 1
    assert parsed.first_receive
    assert "private" not in repr(parsed)
    with pytest.raises(MalformedRecord):
        SqsRecord.from_lambda({"body": "{}"})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "body is not JSON"),
        ("[1]", "body is not a JSON object"),
        ('{"type": "payment.initiated", "data": {}}', "envelope without an id"),
        ('{"id": "evt_1", "type": "payment.exploded", "data": {}}', "unknown type"),
        ('{"id": "evt_1", "type": "payment.initiated"}', "without a data object"),
    ],
)
def test_unusable_bodies_are_poison(body: str, reason: str) -> None:
    with pytest.raises(PoisonMessage) as raised:
        parse_event(body)
    assert reason in raised.value.reason


def test_envelope_round_trips() -> None:
    sent = payment_initiated("pay_1")
    event = parse_event(json.dumps(sent))
    assert event.type is EventType.PAYMENT_INITIATED
    assert event.id == sent["id"]
    assert event.merchant_id == sent["merchantId"]
    assert event.data == {"payment": {"id": "pay_1"}}


async def test_failures_stay_with_their_record_and_concurrency_is_bounded(
    logs: EventLog,
) -> None:
    running = 0
    peak = 0

    async def handle(item: SqsRecord) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0.02)
            if item.message_id.startswith("boom"):
                raise RuntimeError("downstream unavailable")
            if item.message_id.startswith("poison"):
                raise PoisonMessage("body is not JSON")
        finally:
            running -= 1

    ids = ["ok-1", "boom-1", "ok-2", "poison-1", "ok-3", "ok-4", "boom-2"]
    outcome = await handle_batch([record(i, SECRET_BODY) for i in ids], handle, concurrency=3)

    assert outcome.succeeded == ("ok-1", "ok-2", "ok-3", "ok-4")
    assert outcome.failed == ("boom-1", "poison-1", "boom-2")
    assert outcome.poison == ("poison-1",)
    assert peak == 3
    failures = [entry for entry in logs if entry["event"] == "consumer.record_failed"]
    assert {entry["message_id"] for entry in failures} == {"boom-1", "boom-2"}
    assert SECRET_BODY not in repr(logs)


async def test_poison_is_logged_once_on_its_first_receive(logs: EventLog) -> None:
    async def handle(item: SqsRecord) -> None:
        parse_event(item.body)

    for receive_count in (1, 2, 3):
        outcome = await handle_batch(
            [record("poison-x", SECRET_BODY, receive_count=receive_count)], handle, concurrency=1
        )
        assert outcome.failed == ("poison-x",)

    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert errors == [
        {
            "event": "consumer.poison_message",
            "log_level": "error",
            "message_id": "poison-x",
            "reason": "body is not JSON",
        }
    ]
    assert "private" not in repr(logs)


def test_lambda_entry_reports_exactly_the_failed_records() -> None:
    async def handle(item: SqsRecord) -> None:
        parse_event(item.body)

    event = {
        "Records": [
            lambda_record("good", json.dumps(payment_initiated("pay_2"))),
            lambda_record("bad-json", SECRET_BODY),
            lambda_record("unknown", '{"id": "evt_2", "type": "nope", "data": {}}'),
        ]
    }
    assert handle_event(event, handle, concurrency=2) == {
        "batchItemFailures": [{"itemIdentifier": "bad-json"}, {"itemIdentifier": "unknown"}]
    }
    assert handle_event({"Records": []}, handle, concurrency=2) == {"batchItemFailures": []}
