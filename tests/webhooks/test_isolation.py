"""A slow endpoint holds only its own few slots: the other merchants' webhooks go on.

With WEBHOOK_CONCURRENCY=3 and WEBHOOK_ENDPOINT_CONCURRENCY=2, an endpoint that takes the whole
10 s timeout gets two slots and every other endpoint shares the third; without the per-endpoint
cap the slow one would take all three and merchant B would wait the full 10 s.
"""

import asyncio
import time
import uuid

from payments_core.webhooks.attempt import new_connections
from payments_webhook_sender.dispatcher import DeliveryDispatcher
from payments_webhook_sender.intake import IntakeHandler
from tests.core.consumer.support import eventually
from tests.webhooks.conftest import StartDispatcher
from tests.webhooks.support import (
    Receiver,
    Reply,
    Sessions,
    attempts_of,
    create_endpoint,
    create_merchant,
    delivery_of,
    finished,
    record_event,
    sender_settings,
    sqs_record,
)

# The bound: another merchant's webhook arrives within 2 s while one endpoint is slow.
LATENCY_BOUND_SECONDS = 2.0


async def test_a_slow_merchant_does_not_delay_another_merchants_webhooks(
    sessions: Sessions, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    receiver.script("/slow", then=Reply(200, delay=10))
    slow_merchant, fast_merchant = await create_merchant(sessions), await create_merchant(sessions)
    await create_endpoint(sessions, slow_merchant, receiver.url("/slow"))
    await create_endpoint(sessions, fast_merchant, receiver.url("/fast"))
    slow_events = [await record_event(sessions, slow_merchant) for _ in range(5)]
    fast_event = await record_event(sessions, fast_merchant)

    dispatcher = await start_dispatcher(
        webhook_timeout_seconds=10,
        webhook_concurrency=3,
        webhook_endpoint_concurrency=2,
        webhook_retry_schedule=(60,),
    )
    intake = IntakeHandler(sessions, dispatcher.wake)
    created = time.monotonic()
    await asyncio.gather(*(intake(sqs_record(event)) for event in [*slow_events, fast_event]))

    await eventually(lambda: len(receiver.requests("/fast")) == 1, what="B's first webhook")
    assert receiver.requests("/fast")[0].at - created < LATENCY_BOUND_SECONDS
    await eventually(lambda: receiver.in_flight("/slow") == 2, what="A's attempts in flight")

    # Created while A's attempts hang and three more of A's deliveries are due.
    later = await record_event(sessions, fast_merchant)
    created = time.monotonic()
    await intake(sqs_record(later))
    await eventually(lambda: len(receiver.requests("/fast")) == 2, what="B's second webhook")
    assert receiver.requests("/fast")[1].at - created < LATENCY_BOUND_SECONDS
    assert receiver.in_flight("/slow") == 2
    assert receiver.most_in_flight("/slow") == 2
    assert len(receiver.requests("/slow")) == 2


async def test_an_endpoint_never_has_more_attempts_in_flight_than_its_cap(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    receiver.script("/capped", then=Reply(200, delay=1))
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/capped"))
    dispatcher = await start_dispatcher(webhook_concurrency=10, webhook_endpoint_concurrency=2)
    intake = IntakeHandler(sessions, dispatcher.wake)

    first = await record_event(sessions, merchant_id)
    await intake(sqs_record(first))
    await eventually(lambda: receiver.in_flight("/capped") == 1, what="the first attempt")
    # More of the same endpoint's deliveries come due while one attempt is in flight.
    more = [await record_event(sessions, merchant_id) for _ in range(3)]
    await asyncio.gather(*(intake(sqs_record(event)) for event in more))
    for event in [first, *more]:
        await eventually(lambda e=event: finished(sessions, e.id, endpoint_id), what="delivery")

    assert len(receiver.requests("/capped")) == 4
    assert receiver.most_in_flight("/capped") == 2


async def test_stopping_lets_an_attempt_in_flight_finish_and_be_recorded(
    sessions: Sessions, receiver: Receiver, merchant_id: uuid.UUID, database_url: str
) -> None:
    receiver.script("/draining", then=Reply(200, delay=1))
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/draining"))
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))
    settings = sender_settings(database_url)
    connections = new_connections(settings.webhook_concurrency)
    dispatcher = DeliveryDispatcher(sessions, settings, connections)
    running = asyncio.create_task(dispatcher.run(drain_seconds=5))
    try:
        await eventually(lambda: receiver.in_flight("/draining") == 1, what="the attempt")
        dispatcher.stop()
        await asyncio.wait_for(running, timeout=10)
    finally:
        dispatcher.stop()
        await connections.aclose()

    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None and delivery.status == "succeeded"
    assert [a.status_code for a in await attempts_of(sessions, delivery.id)] == [200]
