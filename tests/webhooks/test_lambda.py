"""The Lambda entrypoints: a synthetic SQS event, real PostgreSQL, a real receiver."""

import json
import uuid
from collections.abc import Iterator

import pytest

from payments_core.events.envelope import Event
from payments_core.webhooks.models import WebhookDelivery
from payments_webhook_sender import lambda_function
from payments_webhook_sender.intake import IntakeHandler
from tests.api.support import WEBHOOK_ENCRYPTION_KEY
from tests.core.consumer.support import lambda_record
from tests.webhooks.support import (
    Receiver,
    Sessions,
    create_endpoint,
    create_merchant,
    delivery_of,
    on_fresh_loop,
    record_event,
    sqs_record,
    verify,
)


@pytest.fixture
def lambda_environment(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WEBHOOK_ENCRYPTION_KEY", WEBHOOK_ENCRYPTION_KEY)
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "5")
    # The test's log capture stays in place (configure_logging would cache loggers).
    monkeypatch.setattr(lambda_function, "configure_logging", lambda *_: None)
    lambda_function.reset()
    yield
    lambda_function.reset()


def an_endpoint_and_event(
    database_url: str, url: str, *, enqueue: bool = False
) -> tuple[uuid.UUID, str, Event]:
    async def make(sessions: Sessions) -> tuple[uuid.UUID, str, Event]:
        merchant_id = await create_merchant(sessions)
        endpoint_id, secret = await create_endpoint(sessions, merchant_id, url)
        event = await record_event(sessions, merchant_id)
        if enqueue:
            await IntakeHandler(sessions)(sqs_record(event))
        return endpoint_id, secret, event

    return on_fresh_loop(database_url, make)


def delivery(database_url: str, event_id: str, endpoint_id: uuid.UUID) -> WebhookDelivery:
    async def read(sessions: Sessions) -> WebhookDelivery | None:
        return await delivery_of(sessions, event_id, endpoint_id)

    found = on_fresh_loop(database_url, read)
    assert found is not None
    return found


@pytest.mark.usefixtures("lambda_environment")
def test_the_handler_delivers_within_the_invocation_and_reports_poison_records(
    database_url: str, receiver: Receiver
) -> None:
    endpoint_id, secret, event = an_endpoint_and_event(database_url, receiver.url("/lambda"))
    unrecorded = Event.new(event.type, event.merchant_id, {"payment": {"id": "p"}})
    sqs_event = {
        "Records": [
            lambda_record("m-event", json.dumps(event.envelope())),
            lambda_record("m-unrecorded", json.dumps(unrecorded.envelope())),
            lambda_record("m-bad-json", '{"id": "evt_1", "type": '),
        ]
    }

    response = lambda_function.handler(sqs_event, None)

    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": "m-unrecorded"},
            {"itemIdentifier": "m-bad-json"},
        ]
    }
    [request] = receiver.requests("/lambda")  # sent before the invocation returned
    assert verify(secret, request) == event.envelope()
    assert delivery(database_url, event.id, endpoint_id).status == "succeeded"

    # The same record again, in the same container: nothing new is created or sent.
    again = {"Records": [sqs_event["Records"][0] | {"messageId": "m-again"}]}
    assert lambda_function.handler(again, None) == {"batchItemFailures": []}
    assert len(receiver.requests("/lambda")) == 1


@pytest.mark.usefixtures("lambda_environment")
def test_the_scheduled_handler_sends_what_is_due(database_url: str, receiver: Receiver) -> None:
    endpoint_id, secret, event = an_endpoint_and_event(
        database_url, receiver.url("/scheduled"), enqueue=True
    )

    assert lambda_function.scheduled_handler({}, None) == {"status": "ok"}

    [request] = receiver.requests("/scheduled")
    assert verify(secret, request)["id"] == event.id
    assert delivery(database_url, event.id, endpoint_id).status == "succeeded"
