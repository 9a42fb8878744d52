"""One SQS record → one pending delivery per matching endpoint, however often it arrives."""

import asyncio
import uuid

import pytest

from payments_core.consumer.batch import handle_batch
from payments_core.consumer.errors import PoisonMessage
from payments_core.db.session import transaction
from payments_core.events.envelope import Event, EventType
from payments_core.webhooks import endpoints
from payments_core.webhooks.schemas import WebhookEndpointUpdate
from payments_webhook_sender.intake import IntakeHandler
from tests.webhooks.support import (
    Sessions,
    create_endpoint,
    create_merchant,
    deliveries_of,
    record_event,
    sqs_record,
)

NOWHERE = "http://127.0.0.1:9/hooks"  # never called: no dispatcher runs here


async def test_a_repeated_record_creates_one_delivery_per_matching_endpoint(
    sessions: Sessions, merchant_id: uuid.UUID
) -> None:
    every, _ = await create_endpoint(sessions, merchant_id, NOWHERE, enabled_events=["*"])
    exact, _ = await create_endpoint(
        sessions, merchant_id, NOWHERE, enabled_events=["refund.failed", "payment.completed"]
    )
    await create_endpoint(sessions, merchant_id, NOWHERE, enabled_events=["payment.failed"])
    disabled, _ = await create_endpoint(sessions, merchant_id, NOWHERE)
    deleted, _ = await create_endpoint(sessions, merchant_id, NOWHERE)
    async with transaction(sessions) as session:
        await endpoints.change(
            session,
            merchant_id,
            disabled,
            WebhookEndpointUpdate(disabled=True),
            allow_private=True,
        )
        await endpoints.delete(session, merchant_id, deleted)
    await create_endpoint(sessions, await create_merchant(sessions), NOWHERE)  # not the owner
    event = await record_event(sessions, merchant_id, EventType.PAYMENT_COMPLETED)
    wakes: list[None] = []
    intake = IntakeHandler(sessions, lambda: wakes.append(None))
    record = sqs_record(event)

    await intake(record)
    await intake(record)  # SQS delivers at least once
    await asyncio.gather(intake(record), intake(record))  # and two consumers may race

    deliveries = await deliveries_of(sessions, event.id)
    assert sorted(d.endpoint_id for d in deliveries) == sorted([every, exact])
    assert {(d.status, d.attempt_count, d.merchant_id) for d in deliveries} == {
        ("pending", 0, merchant_id)
    }
    assert len(wakes) == 1  # only the intake that created rows wakes the dispatcher


async def test_an_event_not_in_the_event_log_is_poison(
    sessions: Sessions, merchant_id: uuid.UUID
) -> None:
    await create_endpoint(sessions, merchant_id, NOWHERE)
    unrecorded = Event.new(EventType.PAYMENT_COMPLETED, merchant_id, {"payment": {"id": "p"}})
    intake = IntakeHandler(sessions)

    with pytest.raises(PoisonMessage, match="not in the event log"):
        await intake(sqs_record(unrecorded))
    recorded = await record_event(sessions, merchant_id)
    good, bad = sqs_record(recorded), sqs_record(unrecorded)
    outcome = await handle_batch([good, bad], intake, concurrency=2)
    assert outcome.succeeded == (good.message_id,)
    assert outcome.poison == (bad.message_id,)
    assert await deliveries_of(sessions, unrecorded.id) == []
    assert len(await deliveries_of(sessions, recorded.id)) == 1
