"""The SSRF guard at delivery time, and redirects that are never followed.

Endpoint rows are registered while private URLs are allowed (as a URL that later resolves
somewhere private would be), then sent by a dispatcher with the guard on. The URLs are https on
the receiver's port, so a request that got through would show as a connection to the receiver.
"""

import uuid

import pytest

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
    record_event,
    sqs_record,
)


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "[::1]",
        "[fc00::1]",
        "[::ffff:127.0.0.1]",
        "localhost",
    ],
)
async def test_a_private_address_is_refused_at_each_attempt_and_never_contacted(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
    host: str,
) -> None:
    url = receiver.url("/internal", scheme="https", host=host)
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, url)
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))

    await start_dispatcher(
        webhook_allow_private_urls=False,
        webhook_retry_schedule=(1,),
        webhook_timeout_seconds=2,
    )
    await eventually(lambda: attempted(sessions, event.id, endpoint_id, 2), what="2 attempts")

    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None and delivery.status == "failed"
    attempts = await attempts_of(sessions, delivery.id)
    assert len(attempts) == 2
    for attempt in attempts:
        assert attempt.status_code is None
        assert attempt.error is not None and attempt.error.startswith("url_forbidden: ")
    assert receiver.connections == 0


async def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    elsewhere = receiver.url("/elsewhere")
    receiver.script("/moved", then=Reply(302, headers={"location": elsewhere}))
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/moved"))
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))

    await start_dispatcher(webhook_retry_schedule=(60,))
    await eventually(lambda: attempted(sessions, event.id, endpoint_id), what="the attempt")

    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None
    assert (delivery.status, delivery.retries_used) == ("pending", 1)
    [attempt] = await attempts_of(sessions, delivery.id)
    assert (attempt.status_code, attempt.error) == (302, "http_status: endpoint answered 302")
    assert len(receiver.requests("/moved")) == 1
    assert receiver.requests("/elsewhere") == []
