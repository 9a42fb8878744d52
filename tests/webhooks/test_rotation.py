"""Secret rotation: both secrets sign during the grace period, only the new one after it."""

import uuid

import pytest
from sqlalchemy import text
from standardwebhooks.webhooks import WebhookVerificationError

from payments_core.db.session import transaction
from payments_core.webhooks import endpoints
from payments_webhook_sender.intake import IntakeHandler
from tests.core.consumer.support import eventually
from tests.webhooks.conftest import StartDispatcher
from tests.webhooks.support import (
    BOX,
    Receiver,
    Sessions,
    create_endpoint,
    finished,
    record_event,
    sqs_record,
    verify,
)


async def test_after_rotation_old_and_new_secret_verify_until_the_grace_period_ends(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    endpoint_id, old = await create_endpoint(sessions, merchant_id, receiver.url("/rotating"))
    async with transaction(sessions) as session:
        _, new = await endpoints.rotate_secret(session, merchant_id, endpoint_id, box=BOX)
    dispatcher = await start_dispatcher()
    intake = IntakeHandler(sessions, dispatcher.wake)

    during = await record_event(sessions, merchant_id)
    await intake(sqs_record(during))
    await eventually(lambda: finished(sessions, during.id, endpoint_id), what="the delivery")
    [request] = receiver.requests("/rotating")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verify(old, request) == during.envelope()
    assert verify(new, request) == during.envelope()

    async with transaction(sessions) as session:
        await session.execute(
            text(
                "UPDATE webhook_endpoints"
                " SET previous_secret_expires_at = now() - interval '1 second' WHERE id = :id"
            ),
            {"id": endpoint_id},
        )
    after = await record_event(sessions, merchant_id)
    await intake(sqs_record(after))
    await eventually(lambda: finished(sessions, after.id, endpoint_id), what="the delivery")
    [_, later] = receiver.requests("/rotating")
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    assert verify(new, later) == after.envelope()
    with pytest.raises(WebhookVerificationError):
        verify(old, later)
