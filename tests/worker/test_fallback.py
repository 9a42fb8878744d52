"""Fallback between a merchant's connectors, in the workflow: a connector never reached, or one
whose authorization failed and was voided, is passed over for the next by priority; the history
records which and why; with none left the payment fails; the sandbox never takes over."""

import json

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from payments_core.errors import InvalidRequest
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.gateway.sandbox.ledger import ledger_for_payment
from tests.worker.fallback_scenarios import FAILING, SDK_ONLY, UNREACHABLE, WORKING, Routed
from tests.worker.support import SUCCEEDING_CARDS, card_method, create_payment, payment_row

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def routed(sessions: Sessions, sandbox: SandboxConnector, client: Client) -> Routed:
    return Routed(sessions, sandbox, client)


async def _fall_backs(client: Client, workflow_id: str) -> list[dict[str, str]]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [
        json.loads(event.activity_task_scheduled_event_attributes.input.payloads[0].data)
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == "fall_back"
    ]


async def test_a_connector_never_reached_is_passed_over_without_a_void(
    routed: Routed, client: Client, sessions: Sessions
) -> None:
    payment_id, (first, second) = await routed.payment(UNREACHABLE, WORKING)
    workflow_id = await routed.run(payment_id)

    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.connector_id, payment.gateway_reference) == (
        "completed",
        second,
        "pi_fallback",
    )
    assert await _fall_backs(client, workflow_id) == [
        {"payment_id": payment_id, "from_connector_id": str(first), "reason": "gateway_unreachable"}
    ]
    # One authorization attempt at the first (its transport retried the connection), no void.
    assert [(m, p) for key, m, p in routed.seen if key == UNREACHABLE] == [
        ("POST", "/v1/payment_intents")
    ]
    async with sessions() as session:
        assert await ledger_for_payment(session, payment_id) == []  # never the sandbox


async def test_a_failing_connector_is_voided_then_passed_over(
    routed: Routed, client: Client, sessions: Sessions
) -> None:
    payment_id, (first, second) = await routed.payment(FAILING, WORKING)
    workflow_id = await routed.run(payment_id)

    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.connector_id) == ("completed", second)
    assert await _fall_backs(client, workflow_id) == [
        {"payment_id": payment_id, "from_connector_id": str(first), "reason": "gateway_unavailable"}
    ]
    failing = [(m, p) for key, m, p in routed.seen if key == FAILING]
    # Its retries ran out, then the void looked for what the key might have created there.
    assert failing.count(("POST", "/v1/payment_intents")) == 4
    assert failing[-1] == ("GET", "/v1/payment_intents/search")


async def test_with_no_connector_left_the_payment_fails(routed: Routed, sessions: Sessions) -> None:
    payment_id, (only,) = await routed.payment(UNREACHABLE)
    await routed.run(payment_id)

    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.failure_reason, payment.connector_id) == (
        "failed",
        "gateway_unavailable",
        only,
    )
    async with sessions() as session:
        assert await ledger_for_payment(session, payment_id) == []


async def test_a_challenge_with_no_page_to_send_the_customer_to_fails_without_fallback(
    routed: Routed, sessions: Sessions
) -> None:
    """Stripe without a return_url (STRIPE_REDIRECT_AUTHENTICATION=false) asks through Stripe.js,
    which the platform cannot drive: the customer cannot authenticate, nothing is held."""
    payment_id, (first, _) = await routed.payment(SDK_ONLY, WORKING)
    await routed.run(payment_id)

    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.failure_reason, payment.connector_id) == (
        "failed",
        "authentication_failed",
        first,
    )
    assert not any(key == WORKING for key, _, _ in routed.seen)


async def test_a_card_no_connector_holds_is_refused_not_sent_to_the_sandbox(
    routed: Routed, sessions: Sessions, sandbox: SandboxConnector
) -> None:
    """A process that cannot open connectors (the demo seed) still registers a card, in the
    sandbox's vault only; a payment with it is refused, never routed to pretend money."""
    await routed.payment(WORKING)
    method_id = await card_method(sessions, sandbox, routed.merchant_id, SUCCEEDING_CARDS[1])

    with pytest.raises(InvalidRequest) as refused:
        await create_payment(sessions, routed.merchant_id, method_id)
    assert refused.value.code == "payment_method_not_routable"
