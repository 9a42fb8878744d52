"""Payments through merchants' Stripe connectors, the whole pipeline running against localstripe
(a stateful fake of Stripe, a separate process): routed by priority, completed, captured in
part, refunded, with Stripe's PaymentIntent as the payment's reference; a connector that cannot
be reached is passed over for the next one; a decline is final.

localstripe never declines a card and never drops a connection, so `ProcessorFaults` (the
worker's transport to it) refuses one key's connections or answers Stripe's documented decline.
"""

import json
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from temporalio.api.enums.v1 import EventType

from payments_core.connectors.models import ConnectorNotice
from payments_core.temporal import names
from payments_devstack.moto_server import MotoServer
from tests.e2e.support import (
    SUCCEEDING_CARDS,
    Merchant,
    Pipeline,
    Sessions,
    eventually,
    running_pipeline,
)
from tests.localstripe import ProcessorFaults

FIRST_KEY = "sk_test_" + "f" * 24
SECOND_KEY = "sk_test_" + "s" * 24
AMOUNT = 5_000
# Stripe's (and localstripe's) test card that asks for 3-D Secure.
AUTHENTICATION_CARD = "4000002500003155"
MERCHANT_RETURN = "https://shop.example/checkout/done"


@pytest.fixture
async def faults() -> AsyncIterator[ProcessorFaults]:
    transport = ProcessorFaults()
    yield transport
    await transport.aclose()


@pytest.fixture
async def stripe_pipeline(
    database_url: str,
    moto_server: MotoServer,
    temporal_address: str,
    e2e_sessions: Sessions,
    localstripe_url: str,
    faults: ProcessorFaults,
) -> AsyncIterator[Pipeline]:
    async with running_pipeline(
        database_url,
        moto_server,
        temporal_address,
        e2e_sessions,
        stripe_api_base=localstripe_url,
        stripe_transport=faults,
    ) as running:
        yield running


async def _connector(pipeline: Pipeline, merchant: Merchant, key: str, priority: int) -> str:
    response = await pipeline.api.post(
        "/connectors",
        json={"type": "stripe", "credentials": {"secretKey": key}, "priority": priority},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def _pay(
    pipeline: Pipeline, merchant: Merchant, method_id: str, **extra: Any
) -> dict[str, Any]:
    response = await pipeline.api.post(
        "/payments",
        json={"amount": AMOUNT, "currency": "USD", "paymentMethodId": method_id, **extra},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


async def _intent(localstripe_url: str, key: str, intent_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=localstripe_url, auth=(key, "")) as stripe:
        response = await stripe.get(f"/v1/payment_intents/{intent_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_payment_routed_to_stripe_completes_shows_its_reference_and_is_refunded(
    stripe_pipeline: Pipeline, localstripe_url: str
) -> None:
    pipeline = stripe_pipeline
    merchant = await pipeline.onboard()
    connector_id = await _connector(pipeline, merchant, FIRST_KEY, priority=0)
    method_id = await pipeline.add_card(merchant, SUCCEEDING_CARDS[0])

    created = await _pay(pipeline, merchant, method_id)
    assert created["connector"] == {"id": connector_id, "type": "stripe"}
    payment = await pipeline.wait_for_payment(merchant, created["id"])
    assert payment["status"] == "completed", payment
    reference = payment["gatewayReference"]
    assert reference.startswith("pi_"), reference
    intent = await _intent(localstripe_url, FIRST_KEY, reference)
    assert (intent["status"], intent["amount"], intent["currency"]) == ("succeeded", AMOUNT, "usd")
    assert intent["metadata"]["payment_id"] == payment["id"]
    # The sandbox moved nothing: the money moved at Stripe.
    assert await pipeline.ledger(payment["id"]) == []

    refund = await pipeline.api.post(
        f"/payments/{payment['id']}/refunds", json={"amount": 1_500}, headers=merchant.headers
    )
    assert refund.status_code == 201, refund.text
    refunded = await pipeline.wait_for_payment(
        merchant, payment["id"], frozenset({"partially_refunded"})
    )
    assert refunded["amountRefunded"] == 1_500
    async with httpx.AsyncClient(base_url=localstripe_url, auth=(FIRST_KEY, "")) as stripe:
        listed = (await stripe.get("/v1/refunds", params={"payment_intent": reference})).json()
    assert [item["amount"] for item in listed["data"]] == [1_500]


async def test_a_manual_payment_is_captured_in_part_at_stripe(
    stripe_pipeline: Pipeline, localstripe_url: str
) -> None:
    pipeline = stripe_pipeline
    merchant = await pipeline.onboard()
    await _connector(pipeline, merchant, FIRST_KEY, priority=0)
    method_id = await pipeline.add_card(merchant, SUCCEEDING_CARDS[0])
    created = await _pay(pipeline, merchant, method_id, captureMethod="manual")
    held = await pipeline.wait_for_payment(merchant, created["id"], frozenset({"authorized"}))
    intent = await _intent(localstripe_url, FIRST_KEY, held["gatewayReference"])
    assert intent["status"] == "requires_capture"

    captured = await pipeline.api.post(
        f"/payments/{created['id']}/capture", json={"amount": 2_000}, headers=merchant.headers
    )
    assert captured.status_code == 200, captured.text
    data = captured.json()["data"]
    assert (data["status"], data["amountCaptured"]) == ("completed", 2_000)
    intent = await _intent(localstripe_url, FIRST_KEY, held["gatewayReference"])
    # localstripe shows a partial capture as Stripe's older API did: the charge keeps the whole
    # amount and refunds the rest at once (today's Stripe: amount_received 2000).
    charge = intent["latest_charge"]
    assert (intent["status"], charge["amount"] - charge["amount_refunded"]) == ("succeeded", 2_000)


async def test_an_unreachable_first_connector_falls_back_to_the_second(
    stripe_pipeline: Pipeline, faults: ProcessorFaults
) -> None:
    pipeline = stripe_pipeline
    merchant = await pipeline.onboard()
    first = await _connector(pipeline, merchant, FIRST_KEY, priority=0)
    second = await _connector(pipeline, merchant, SECOND_KEY, priority=1)
    method_id = await pipeline.add_card(merchant, SUCCEEDING_CARDS[0])
    faults.unreachable.add(FIRST_KEY)  # after the card reached both vaults

    created = await _pay(pipeline, merchant, method_id)
    assert created["connector"]["id"] == first
    payment = await pipeline.wait_for_payment(merchant, created["id"])
    assert payment["status"] == "completed", payment
    assert payment["connector"] == {"id": second, "type": "stripe"}
    assert payment["gatewayReference"].startswith("pi_")
    # The first connector was tried (and never reached); the second took the money.
    assert ("POST", "/v1/payment_intents") in faults.paths_of(FIRST_KEY)
    assert ("POST", f"/v1/payment_intents/{payment['gatewayReference']}/capture") in (
        faults.paths_of(SECOND_KEY)
    )
    fallbacks = await _fallbacks(pipeline, payment["id"])
    assert fallbacks == [
        {
            "payment_id": payment["id"],
            "from_connector_id": first,
            "reason": "gateway_unreachable",
        }
    ]


async def test_a_decline_does_not_fall_back(
    stripe_pipeline: Pipeline, faults: ProcessorFaults
) -> None:
    pipeline = stripe_pipeline
    merchant = await pipeline.onboard()
    first = await _connector(pipeline, merchant, FIRST_KEY, priority=0)
    await _connector(pipeline, merchant, SECOND_KEY, priority=1)
    method_id = await pipeline.add_card(merchant, SUCCEEDING_CARDS[0])
    faults.declining.add(FIRST_KEY)

    created = await _pay(pipeline, merchant, method_id)
    payment = await pipeline.wait_for_payment(merchant, created["id"])
    assert (payment["status"], payment["failureReason"]) == ("failed", "card_declined")
    assert payment["connector"]["id"] == first
    assert ("POST", "/v1/payment_intents") not in faults.paths_of(SECOND_KEY)
    assert await _fallbacks(pipeline, payment["id"]) == []


async def _fallbacks(pipeline: Pipeline, payment_id: str) -> list[dict[str, Any]]:
    """The inputs of the workflow's fall_back activities, as its history recorded them."""
    handle = pipeline.temporal.get_workflow_handle(names.payment_workflow_id(payment_id))
    history = await handle.fetch_history()
    found = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            continue
        scheduled = event.activity_task_scheduled_event_attributes
        if scheduled.activity_type.name == "fall_back":
            found.append(json.loads(scheduled.input.payloads[0].data))
    return found


@pytest.mark.parametrize("approved", [True, False], ids=["approved", "declined"])
async def test_stripe_s_3d_secure_is_the_payment_s_next_action(
    stripe_pipeline: Pipeline, localstripe_url: str, approved: bool
) -> None:
    pipeline = stripe_pipeline
    merchant = await pipeline.onboard()
    await _connector(pipeline, merchant, FIRST_KEY, priority=0)
    method_id = await pipeline.add_card(merchant, AUTHENTICATION_CARD)
    created = await _pay(pipeline, merchant, method_id, returnUrl=MERCHANT_RETURN)
    waiting = await pipeline.wait_for_payment(
        merchant, created["id"], frozenset({"requires_action"})
    )
    # The customer goes to Stripe's page (here localstripe's stand-in for the issuer's).
    redirect = waiting["nextAction"]["redirectToUrl"]
    assert redirect["url"].startswith(f"{localstripe_url}/v1/payment_intents/pi_"), redirect
    assert redirect["returnUrl"] == MERCHANT_RETURN
    intent_id = waiting["gatewayReference"]
    assert redirect["url"].startswith(f"{localstripe_url}/v1/payment_intents/{intent_id}/")

    # What the issuer's page does once the customer answered (in localstripe, Stripe.js posts
    # it with the publishable key and the PaymentIntent's client secret).
    page = httpx.URL(redirect["url"])
    answer = {**dict(page.params), "key": "pk_test_customer", "success": str(approved).lower()}
    async with httpx.AsyncClient() as browser:
        answered = await browser.post(str(page.copy_with(query=None)), data=answer)
    assert answered.status_code == 200, answered.text
    # Stripe sends the browser back to the return_url the PaymentIntent was confirmed with.
    back = await pipeline.api.get(
        f"/authentication-returns/{created['id']}", params={"payment_intent": intent_id}
    )
    assert back.status_code == 303, back.text
    assert back.headers["location"] == f"{MERCHANT_RETURN}?payment_id={created['id']}"

    payment = await pipeline.wait_for_payment(merchant, created["id"])
    if approved:
        assert (payment["status"], payment["gatewayReference"]) == ("completed", intent_id)
        intent = await _intent(localstripe_url, FIRST_KEY, intent_id)
        assert intent["status"] == "succeeded"
    else:
        assert (payment["status"], payment["failureReason"]) == (
            "failed",
            "authentication_failed",
        )
    assert payment["nextAction"] is None


@pytest.fixture
async def stripe_pipeline_on_tcp(
    database_url: str,
    moto_server: MotoServer,
    temporal_address: str,
    e2e_sessions: Sessions,
    localstripe_url: str,
    faults: ProcessorFaults,
) -> AsyncIterator[Pipeline]:
    """The API also on a port of its own, where localstripe can send its events."""
    async with running_pipeline(
        database_url,
        moto_server,
        temporal_address,
        e2e_sessions,
        serve_over_tcp=True,
        stripe_api_base=localstripe_url,
        stripe_transport=faults,
    ) as running:
        yield running


async def test_localstripe_s_signed_events_are_kept_once_against_their_payment(
    stripe_pipeline_on_tcp: Pipeline, localstripe_url: str
) -> None:
    """localstripe sends Stripe's events signed as Stripe does (`Stripe-Signature`) to the URL
    it was given: ours, with the connector's webhook secret."""
    pipeline = stripe_pipeline_on_tcp
    merchant = await pipeline.onboard()
    secret = "whsec_" + uuid.uuid4().hex
    response = await pipeline.api.post(
        "/connectors",
        json={"type": "stripe", "credentials": {"secretKey": FIRST_KEY, "webhookSecret": secret}},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    connector_id = response.json()["data"]["id"]
    notices_url = f"{pipeline.public_base_url}/api/v1/connectors/{connector_id}/webhooks"
    async with httpx.AsyncClient(base_url=localstripe_url) as stripe:
        configured = await stripe.post(
            f"/_config/webhooks/{connector_id}",
            data={"url": notices_url, "secret": secret, "events[]": "payment_intent.succeeded"},
        )
    assert configured.status_code == 200, configured.text

    method_id = await pipeline.add_card(merchant, SUCCEEDING_CARDS[0])
    created = await _pay(pipeline, merchant, method_id)
    payment = await pipeline.wait_for_payment(merchant, created["id"])
    assert payment["status"] == "completed", payment

    async def kept() -> list[tuple[str, uuid.UUID | None]]:
        async with pipeline.sessions() as session:
            rows = await session.execute(
                select(ConnectorNotice.type, ConnectorNotice.payment_id).where(
                    col(ConnectorNotice.connector_id) == uuid.UUID(connector_id)
                )
            )
            return [(row.type, row.payment_id) for row in rows]

    ours = ("payment_intent.succeeded", uuid.UUID(payment["id"]))
    await eventually(lambda: _has(kept(), ours), within=15.0, what="localstripe's event kept")
    # Once, although localstripe's later events (and retries) may still arrive.
    assert (await kept()).count(ours) == 1


async def _has(rows: Awaitable[list[Any]], row: Any) -> bool:
    return row in await rows
