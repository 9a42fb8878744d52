"""Claims are leases: a sender that dies comes back as a due delivery, and a result recorded
under a lease that was lost never overwrites what the newer claim decided."""

import random
import uuid
from datetime import timedelta

from sqlalchemy import text

from payments_core.db.columns import utcnow
from payments_core.db.session import transaction
from payments_core.events.envelope import Event
from payments_core.webhooks.attempt_records import record_attempt
from payments_core.webhooks.deliveries import (
    AttemptResult,
    ClaimedDelivery,
    claim_due,
)
from payments_core.webhooks.schedule import retry_delay
from payments_webhook_sender.intake import IntakeHandler
from tests.core.consumer.support import eventually
from tests.webhooks.conftest import StartDispatcher
from tests.webhooks.support import (
    Receiver,
    Sessions,
    attempts_of,
    create_endpoint,
    delivery_of,
    endpoint_row,
    finished,
    record_event,
    sqs_record,
    verify,
)

SCHEDULE = (60,)
FAILED_500 = AttemptResult(500, 12, "http_status: endpoint answered 500")


async def claim(
    sessions: Sessions, lease_seconds: float, per_endpoint: int = 4
) -> list[ClaimedDelivery]:
    async with transaction(sessions) as session:
        return await claim_due(
            session,
            limit=10,
            per_endpoint=per_endpoint,
            in_flight={},
            lease_seconds=lease_seconds,
        )


async def record(sessions: Sessions, claimed: ClaimedDelivery, result: AttemptResult) -> None:
    async with transaction(sessions) as session:
        await record_attempt(session, claimed, result, SCHEDULE)


async def pending_delivery(sessions: Sessions, merchant_id: uuid.UUID) -> tuple[uuid.UUID, Event]:
    """An event with one pending delivery to an endpoint that is never contacted."""
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, "http://127.0.0.1:9/hooks")
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))
    return endpoint_id, event


async def test_a_lost_lease_is_claimed_again_and_the_stale_result_changes_nothing(
    sessions: Sessions, merchant_id: uuid.UUID
) -> None:
    endpoint_id, event = await pending_delivery(sessions, merchant_id)

    [dead] = await claim(sessions, lease_seconds=2)
    assert await claim(sessions, lease_seconds=30) == []  # leased: nobody else takes it
    reclaimed: list[ClaimedDelivery] = []

    async def claimed_again() -> bool:
        reclaimed.extend(await claim(sessions, lease_seconds=30))
        return bool(reclaimed)

    await eventually(claimed_again, what="the delivery due again after its lease")
    [live] = reclaimed
    assert live.delivery_id == dead.delivery_id
    assert live.lease_token != dead.lease_token
    before = await delivery_of(sessions, event.id, endpoint_id)

    await record(sessions, dead, FAILED_500)  # the dead sender's attempt ends after all

    after = await delivery_of(sessions, event.id, endpoint_id)
    assert before is not None and after is not None
    assert after.status == "pending"
    assert after.lease_token == live.lease_token
    assert after.next_attempt_at == before.next_attempt_at  # still the live claim's lease
    assert after.retries_used == 0

    await record(sessions, live, AttemptResult(200, 8))
    succeeded = await delivery_of(sessions, event.id, endpoint_id)
    assert succeeded is not None and succeeded.status == "succeeded"

    await record(sessions, dead, FAILED_500)  # another late result, after the success

    final = await delivery_of(sessions, event.id, endpoint_id)
    assert final is not None
    assert (final.status, final.last_status_code, final.last_error) == ("succeeded", 200, None)
    assert (final.completed_at, final.next_attempt_at) == (succeeded.completed_at, None)
    # The late attempts did reach the endpoint: they stay on record as history.
    attempts = await attempts_of(sessions, final.id)
    assert [a.status_code for a in attempts] == [500, 200, 500]


async def test_a_delivery_whose_sender_died_is_sent_after_the_lease(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    endpoint_id, secret = await create_endpoint(sessions, merchant_id, receiver.url("/revived"))
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))
    [_died] = await claim(sessions, lease_seconds=1)  # claimed, never sent, never recorded

    await start_dispatcher()
    await eventually(lambda: finished(sessions, event.id, endpoint_id), what="the delivery")

    [request] = receiver.requests("/revived")
    assert verify(secret, request)["id"] == event.id
    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None
    assert (delivery.status, delivery.attempt_count) == ("succeeded", 1)


async def test_a_failure_under_the_live_lease_schedules_the_next_retry_exactly(
    sessions: Sessions, merchant_id: uuid.UUID
) -> None:
    endpoint_id, event = await pending_delivery(sessions, merchant_id)
    schedule = (5, 300)
    expected: list[float] = []
    jitter = random.Random(7)
    for retries_used in range(len(schedule)):
        expected.append(retry_delay(schedule, retries_used, jitter) or 0)

    rng = random.Random(7)
    for retries_used in range(len(schedule)):
        [claimed] = await claim(sessions, lease_seconds=0)
        assert claimed.retries_used == retries_used
        before = utcnow()
        async with transaction(sessions) as session:
            recorded = await record_attempt(session, claimed, FAILED_500, schedule, rng)
        after = utcnow()
        delivery = await delivery_of(sessions, event.id, endpoint_id)
        assert delivery is not None
        assert (delivery.status, delivery.retries_used) == ("pending", retries_used + 1)
        assert (delivery.attempt_count, delivery.lease_token) == (retries_used + 1, None)
        assert (delivery.last_status_code, delivery.last_error) == (500, FAILED_500.error)
        delay = timedelta(seconds=expected[retries_used])
        assert delivery.next_attempt_at is not None
        assert before + delay <= delivery.next_attempt_at <= after + delay
        assert (recorded.status, recorded.next_attempt_at) == ("pending", delivery.next_attempt_at)
        await make_due(sessions, delivery.id)

    [last] = await claim(sessions, lease_seconds=30)
    await record(sessions, last, FAILED_500)  # the schedule has run out

    failed = await delivery_of(sessions, event.id, endpoint_id)
    assert failed is not None
    assert (failed.status, failed.retries_used, failed.attempt_count) == ("failed", 2, 3)
    assert (failed.next_attempt_at, failed.lease_token) == (None, None)
    assert failed.completed_at is not None
    attempts = await attempts_of(sessions, failed.id)
    assert [a.attempt_number for a in attempts] == [1, 2, 3]


async def test_a_late_410_under_a_lost_lease_leaves_the_endpoint_enabled(
    sessions: Sessions, merchant_id: uuid.UUID
) -> None:
    endpoint_id, event = await pending_delivery(sessions, merchant_id)
    [dead] = await claim(sessions, lease_seconds=0)
    [live] = await claim(sessions, lease_seconds=30)

    await record(sessions, dead, AttemptResult(410, 5, "http_status: endpoint answered 410"))

    assert not (await endpoint_row(sessions, endpoint_id)).disabled
    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None
    assert (delivery.status, delivery.lease_token, delivery.attempt_count) == (
        "pending",
        live.lease_token,
        1,
    )

    await record(sessions, live, AttemptResult(410, 5, "http_status: endpoint answered 410"))

    assert (await endpoint_row(sessions, endpoint_id)).disabled
    gone = await delivery_of(sessions, event.id, endpoint_id)
    assert gone is not None and (gone.status, gone.attempt_count) == ("failed", 2)


async def make_due(sessions: Sessions, delivery_id: uuid.UUID) -> None:
    async with transaction(sessions) as session:
        await session.execute(
            text("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = :id"),
            {"id": delivery_id},
        )
