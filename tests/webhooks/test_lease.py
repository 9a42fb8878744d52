"""Claims are leases: a sender that dies comes back as a due delivery, and a result recorded
under a lease that was lost never overwrites what the newer claim decided."""

import uuid

from payments_core.db.session import transaction
from payments_core.webhooks.deliveries import (
    AttemptResult,
    ClaimedDelivery,
    claim_due,
    record_attempt,
)
from payments_webhook_sender.intake import IntakeHandler
from tests.core.consumer.support import eventually
from tests.webhooks.conftest import StartDispatcher
from tests.webhooks.support import (
    Receiver,
    Sessions,
    attempts_of,
    create_endpoint,
    delivery_of,
    finished,
    record_event,
    sqs_record,
    verify,
)

SCHEDULE = (60,)
FAILED_500 = AttemptResult(500, 12, "http_status: endpoint answered 500")


async def claim(sessions: Sessions, lease_seconds: float) -> list[ClaimedDelivery]:
    async with transaction(sessions) as session:
        return await claim_due(
            session, limit=10, per_endpoint=4, in_flight={}, lease_seconds=lease_seconds
        )


async def record(sessions: Sessions, claimed: ClaimedDelivery, result: AttemptResult) -> None:
    async with transaction(sessions) as session:
        await record_attempt(session, claimed, result, SCHEDULE)


async def test_a_lost_lease_is_claimed_again_and_the_stale_result_changes_nothing(
    sessions: Sessions, merchant_id: uuid.UUID
) -> None:
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, "http://127.0.0.1:9/hooks")
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))

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
