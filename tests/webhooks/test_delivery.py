"""One event to one endpoint: the request a receiver sees, retries, 410, and a schedule run out.

Signatures are checked with `standardwebhooks`, the reference library, never with our own code.
"""

import json
import time
import uuid

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from payments_core.db.session import transaction
from payments_core.webhooks import endpoints
from payments_core.webhooks.schemas import WebhookEndpointUpdate
from payments_core.webhooks.signing import generate_secret
from payments_devstack.processes import find_free_port
from payments_webhook_sender.intake import IntakeHandler
from tests.core.consumer.support import eventually
from tests.webhooks.conftest import StartDispatcher
from tests.webhooks.support import (
    Receiver,
    Reply,
    Sessions,
    attempted,
    attempts_of,
    create_endpoint,
    delivery_of,
    endpoint_row,
    finished,
    record_event,
    sqs_record,
    verify,
)

HTTP_500 = "http_status: endpoint answered 500"


async def test_a_delivery_carries_the_standard_webhooks_headers_and_the_envelope(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    endpoint_id, secret = await create_endpoint(sessions, merchant_id, receiver.url("/hooks"))
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))

    await start_dispatcher()
    await eventually(lambda: finished(sessions, event.id, endpoint_id), what="the delivery")

    [request] = receiver.requests("/hooks")
    assert request.headers["webhook-id"] == event.id
    assert request.headers["content-type"] == "application/json"
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 300
    assert verify(secret, request) == event.envelope()
    assert json.loads(request.body) == event.envelope()
    # The reference verifier is not simply accepting everything.
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body.replace(b"payment", b"pAyment"), request.headers)
    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None and delivery.status == "succeeded"


async def test_two_failures_then_success_is_three_attempts_with_one_webhook_id(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    receiver.script("/flaky", Reply(500), Reply(500), then=Reply(200))
    endpoint_id, secret = await create_endpoint(sessions, merchant_id, receiver.url("/flaky"))
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))

    await start_dispatcher(webhook_retry_schedule=(1, 1))
    await eventually(lambda: finished(sessions, event.id, endpoint_id), what="the delivery")

    requests = receiver.requests("/flaky")
    assert [request.headers["webhook-id"] for request in requests] == [event.id] * 3
    for request in requests:
        assert verify(secret, request) == event.envelope()
    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None
    assert (delivery.status, delivery.attempt_count, delivery.retries_used) == ("succeeded", 3, 2)
    assert (delivery.last_status_code, delivery.last_error) == (200, None)
    assert delivery.completed_at is not None and delivery.next_attempt_at is None
    attempts = await attempts_of(sessions, delivery.id)
    assert [attempt.attempt_number for attempt in attempts] == [1, 2, 3]
    assert [attempt.status_code for attempt in attempts] == [500, 500, 200]
    assert [attempt.error for attempt in attempts] == [HTTP_500, HTTP_500, None]
    assert all(attempt.duration_ms >= 0 for attempt in attempts)


async def test_an_answer_within_the_timeout_succeeds_even_after_five_seconds(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    # httpx gives up after 5 s by default; WEBHOOK_TIMEOUT_SECONDS is the only bound there is.
    receiver.script("/unhurried", then=Reply(200, delay=5.5))
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/unhurried"))
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))

    await start_dispatcher(webhook_timeout_seconds=8, webhook_retry_schedule=(60,))
    await eventually(
        lambda: attempted(sessions, event.id, endpoint_id), within=15, what="the attempt"
    )

    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None
    [attempt] = await attempts_of(sessions, delivery.id)
    assert (attempt.status_code, attempt.error) == (200, None)
    assert attempt.duration_ms >= 5000
    assert delivery.status == "succeeded"


async def test_410_fails_the_delivery_and_disables_the_endpoint_for_later_events(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    receiver.script("/gone", then=Reply(410))
    gone_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/gone"))
    live_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/live"))
    first = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(first))

    dispatcher = await start_dispatcher(webhook_retry_schedule=(1, 1))
    await eventually(lambda: finished(sessions, first.id, gone_id), what="the 410 delivery")
    await eventually(lambda: finished(sessions, first.id, live_id), what="the other delivery")

    gone = await delivery_of(sessions, first.id, gone_id)
    assert gone is not None
    assert (gone.status, gone.attempt_count, gone.last_status_code) == ("failed", 1, 410)
    assert [a.status_code for a in await attempts_of(sessions, gone.id)] == [410]
    endpoint = await endpoint_row(sessions, gone_id)
    assert (endpoint.disabled, endpoint.disabled_reason) == (True, "gone")
    assert not (await endpoint_row(sessions, live_id)).disabled

    later = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions, dispatcher.wake)(sqs_record(later))
    await eventually(lambda: finished(sessions, later.id, live_id), what="the later delivery")
    assert await delivery_of(sessions, later.id, gone_id) is None
    assert len(receiver.requests("/gone")) == 1


@pytest.mark.parametrize("failure", ["http-500", "timeout", "connection-refused"])
async def test_a_schedule_run_out_fails_the_delivery_after_one_attempt_per_entry_plus_one(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
    failure: str,
) -> None:
    schedule = (1, 1)
    if failure == "connection-refused":
        url = f"http://127.0.0.1:{find_free_port()}/nobody-listens"
    else:
        url = receiver.url("/failing")
        reply = Reply(500) if failure == "http-500" else Reply(200, delay=3)
        receiver.script("/failing", then=reply)
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, url)
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))

    await start_dispatcher(webhook_retry_schedule=schedule, webhook_timeout_seconds=0.5)
    await eventually(lambda: finished(sessions, event.id, endpoint_id), what="the delivery")

    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None
    assert (delivery.status, delivery.attempt_count) == ("failed", len(schedule) + 1)
    assert delivery.completed_at is not None and delivery.next_attempt_at is None
    attempts = await attempts_of(sessions, delivery.id)
    assert len(attempts) == len(schedule) + 1
    expected_error = {
        "http-500": HTTP_500,
        "timeout": "timeout: no answer within 0.5 s",
        "connection-refused": "connection: ",
    }[failure]
    for attempt in attempts:
        assert attempt.error is not None and attempt.error.startswith(expected_error)
        assert attempt.status_code == (500 if failure == "http-500" else None)
    assert delivery.last_error == attempts[-1].error
    if failure != "connection-refused":
        assert len(receiver.requests("/failing")) == len(schedule) + 1


async def test_a_pending_delivery_to_an_endpoint_disabled_since_is_ended_without_a_request(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/switched-off"))
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))
    async with transaction(sessions) as session:
        disable = WebhookEndpointUpdate(disabled=True)
        await endpoints.change(session, merchant_id, endpoint_id, disable, allow_private=True)

    await start_dispatcher()
    await eventually(lambda: finished(sessions, event.id, endpoint_id), what="the delivery")

    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None
    assert (delivery.status, delivery.attempt_count, delivery.last_error) == (
        "failed",
        0,
        "endpoint disabled",
    )
    assert await attempts_of(sessions, delivery.id) == []
    assert receiver.requests() == []


async def test_deliveries_to_one_endpoint_reuse_the_connection(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    # The short answer is read to its end, so the connection goes back to the pool: in
    # production that is one TLS handshake per endpoint, not one per webhook.
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/keepalive"))
    events = [await record_event(sessions, merchant_id) for _ in range(6)]
    await start_dispatcher(webhook_endpoint_concurrency=1)
    for event in events:
        await IntakeHandler(sessions)(sqs_record(event))
        await eventually(lambda e=event: finished(sessions, e.id, endpoint_id), what="delivery")

    assert len(receiver.requests("/keepalive")) == 6
    assert receiver.connections == 1
