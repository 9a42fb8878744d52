"""Activities one at a time (no workflow): the cases a workflow run cannot easily stage."""

import uuid

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from payments_core.db.session import transaction
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.payments import transitions
from payments_worker.activities import PaymentActivities
from payments_worker.payloads import (
    AuthorizeInput,
    BeginAuthorizationInput,
    CancelInput,
    CaptureInput,
    StartProcessingInput,
)
from tests.worker.support import (
    AMOUNT,
    DECLINED_CARD,
    SUCCEEDING_CARDS,
    Sessions,
    bank_transfer_method,
    card_payment,
    create_payment,
    payment_events,
    payment_row,
)


async def test_cancel_that_wins_the_race_skips_authorization(
    sessions: Sessions,
    sandbox: SandboxConnector,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    env = ActivityEnvironment()
    started = await env.run(activities.start_processing, StartProcessingInput(payment_id))
    # The API's cancel commits between start_processing and begin_authorization.
    async with transaction(sessions) as session:
        await transitions.cancel(session, uuid.UUID(payment_id), merchant_id)

    proceed = await env.run(activities.begin_authorization, BeginAuthorizationInput(payment_id))

    assert started.status == "processing"
    assert proceed is False
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step) == ("cancelled", None)


async def test_authorizing_step_is_committed_and_blocks_cancel(
    sessions: Sessions,
    sandbox: SandboxConnector,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    env = ActivityEnvironment()
    await env.run(activities.start_processing, StartProcessingInput(payment_id))

    assert await env.run(activities.begin_authorization, BeginAuthorizationInput(payment_id))
    assert await env.run(activities.begin_authorization, BeginAuthorizationInput(payment_id))

    assert (await payment_row(sessions, payment_id)).processing_step == "authorizing"
    # A cancel signal arriving now finds the payment no longer cancellable and leaves it be.
    assert await env.run(activities.cancel, CancelInput(payment_id)) == "processing"


async def test_method_without_card_has_no_token(
    sessions: Sessions,
    sandbox: SandboxConnector,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    method_id = await bank_transfer_method(sessions, sandbox, merchant_id)
    payment_id = await create_payment(sessions, merchant_id, method_id)

    started = await ActivityEnvironment().run(
        activities.start_processing, StartProcessingInput(payment_id)
    )

    assert (started.status, started.amount, started.currency, started.token) == (
        "processing",
        AMOUNT,
        "NGN",
        None,
    )
    assert started.gateway_call_timeout_ms == 3000


async def test_start_processing_twice_emits_one_event(
    sessions: Sessions,
    sandbox: SandboxConnector,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    env = ActivityEnvironment()

    await env.run(activities.start_processing, StartProcessingInput(payment_id))
    again = await env.run(activities.start_processing, StartProcessingInput(payment_id))

    assert again.status == "processing"
    assert await payment_events(sessions, payment_id) == [
        "payment.initiated",
        "payment.processing",
    ]


async def test_decline_is_a_non_retryable_error_typed_with_its_code(
    sessions: Sessions,
    sandbox: SandboxConnector,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, DECLINED_CARD)
    env = ActivityEnvironment()
    started = await env.run(activities.start_processing, StartProcessingInput(payment_id))
    request = AuthorizeInput(payment_id, started.amount, started.currency, started.token)

    with pytest.raises(ApplicationError) as raised:
        await env.run(activities.authorize, request)

    assert (raised.value.type, raised.value.non_retryable) == ("card_declined", True)


async def test_unknown_payment_is_a_non_retryable_error(activities: PaymentActivities) -> None:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            activities.start_processing, StartProcessingInput(str(uuid.uuid4()))
        )

    assert (raised.value.type, raised.value.non_retryable) == ("resource_missing", True)


async def test_starting_with_the_authorization_commits_both_and_is_repeatable(
    sessions: Sessions,
    sandbox: SandboxConnector,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    env = ActivityEnvironment()
    start = StartProcessingInput(payment_id, begin_authorization=True)

    first = await env.run(activities.start_processing, start)
    again = await env.run(activities.start_processing, start)  # a local activity run twice

    assert first.status == again.status == "processing"
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step) == ("processing", "authorizing")
    assert await payment_events(sessions, payment_id) == ["payment.initiated", "payment.processing"]
    # The API's cancel now answers 409, and a cancel signal leaves the payment be.
    assert await env.run(activities.cancel, CancelInput(payment_id)) == "processing"


async def test_starting_a_cancelled_payment_begins_nothing(
    sessions: Sessions,
    sandbox: SandboxConnector,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    async with transaction(sessions) as session:
        await transitions.cancel(session, uuid.UUID(payment_id), merchant_id)

    started = await ActivityEnvironment().run(
        activities.start_processing, StartProcessingInput(payment_id, begin_authorization=True)
    )

    assert started.status == "cancelled"
    assert (await payment_row(sessions, payment_id)).processing_step is None


async def test_a_capture_asked_to_complete_does_both_in_one_transaction_once(
    sessions: Sessions,
    sandbox: SandboxConnector,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    env = ActivityEnvironment()
    started = await env.run(
        activities.start_processing, StartProcessingInput(payment_id, begin_authorization=True)
    )
    authorization = await env.run(
        activities.authorize,
        AuthorizeInput(payment_id, started.amount, started.currency, started.token),
    )
    capture = CaptureInput(
        payment_id, authorization.reference, started.amount, started.currency, complete=True
    )

    first = await env.run(activities.capture, capture)
    again = await env.run(activities.capture, capture)  # answered from the record

    assert first == again
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step, payment.amount_captured) == (
        "completed",
        "captured",
        started.amount,
    )
    assert payment.completed_at is not None
    assert await payment_events(sessions, payment_id) == [
        "payment.initiated",
        "payment.processing",
        "payment.completed",
    ]
