"""Cancel before the charge, refunds never beyond what remains (CONTRACT.md §1)."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_core.db.engine import create_session_factory
from payments_core.db.session import transaction
from payments_core.payments import transitions
from payments_core.payments.status import PaymentStep
from tests.api.support import MerchantFixture, OnboardMerchant, assert_error


async def create_payment(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    method: dict[str, Any],
    amount: int = 10_000,
) -> dict[str, Any]:
    response = await client.post(
        "/payments",
        json={"amount": amount, "paymentMethodId": method["id"]},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def drive(engine: AsyncEngine, payment_id: str, *, to: str) -> None:
    """Move a payment along as the worker would (the worker itself is tested elsewhere)."""
    factory = create_session_factory(engine)
    pid = uuid.UUID(payment_id)
    async with transaction(factory) as session:
        await transitions.start_processing(session, pid)
    if to == "processing":
        return
    async with transaction(factory) as session:
        await transitions.begin_step(session, pid, PaymentStep.AUTHORIZING)
    if to == "authorizing":
        return
    if to == "failed":
        async with transaction(factory) as session:
            await transitions.fail(session, pid, "card_declined")
        return
    async with transaction(factory) as session:
        payment = await transitions.record_authorization(session, pid, "auth_test")
        await transitions.begin_step(session, pid, PaymentStep.CAPTURING)
        await transitions.record_capture(session, pid, "cap_test", payment.amount)
        await transitions.complete(session, pid)


CompletedPayment = Callable[[int], Awaitable[dict[str, Any]]]


@pytest.fixture
def completed_payment(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> CompletedPayment:
    """A payment of the given amount, captured and completed as the worker would leave it."""

    async def create(amount: int) -> dict[str, Any]:
        payment = await create_payment(client, merchant, card_method, amount=amount)
        await drive(engine, payment["id"], to="completed")
        return payment

    return create


async def events_for(engine: AsyncEngine, payment_id: str) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT event_type FROM outbox WHERE payload->'data'->'payment'->>'id' = :id"
                " ORDER BY created_at"
            ),
            {"id": payment_id},
        )
        return [row[0] for row in rows]


async def test_cancel_a_pending_payment(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    payment = await create_payment(client, merchant, card_method)
    response = await client.post(f"/payments/{payment['id']}/cancel", headers=merchant.headers)
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "cancelled"
    again = await client.post(f"/payments/{payment['id']}/cancel", headers=merchant.headers)
    assert again.status_code == 200
    assert await events_for(engine, payment["id"]) == ["payment.initiated", "payment.cancelled"]


async def test_cancel_while_processing_but_before_the_charge(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    payment = await create_payment(client, merchant, card_method)
    await drive(engine, payment["id"], to="processing")
    response = await client.post(f"/payments/{payment['id']}/cancel", headers=merchant.headers)
    assert response.json()["data"]["status"] == "cancelled"


@pytest.mark.parametrize("stage", ["authorizing", "completed", "failed"])
async def test_cancel_after_the_charge_started_is_409(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
    stage: str,
) -> None:
    payment = await create_payment(client, merchant, card_method)
    await drive(engine, payment["id"], to=stage)
    response = await client.post(f"/payments/{payment['id']}/cancel", headers=merchant.headers)
    assert_error(response, 409, "invalid_state_error", "payment_not_cancellable")
    after = await client.get(f"/payments/{payment['id']}", headers=merchant.headers)
    assert after.json()["data"]["status"] != "cancelled"


async def test_partial_then_full_refund(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
    completed_payment: CompletedPayment,
) -> None:
    payment = await completed_payment(10_000)
    base = f"/payments/{payment['id']}/refunds"

    partial = await client.post(
        base, json={"amount": 2_500, "reason": "damaged"}, headers=merchant.headers
    )
    assert partial.status_code == 201
    refund = partial.json()["data"]
    assert refund["status"] == "pending"
    assert (refund["amount"], refund["currency"], refund["paymentId"]) == (
        2_500,
        "NGN",
        payment["id"],
    )

    rest = await client.post(base, headers=merchant.headers)  # no body: everything that remains
    assert rest.status_code == 201
    assert rest.json()["data"]["amount"] == 7_500

    nothing_left = await client.post(base, json={"amount": 1}, headers=merchant.headers)
    assert_error(nothing_left, 400, "invalid_request_error", "amount_too_large")

    listed = await client.get(base, headers=merchant.headers)
    assert [r["amount"] for r in listed.json()["data"]] == [7_500, 2_500]
    one = await client.get(f"/refunds/{refund['id']}", headers=merchant.headers)
    assert one.json()["data"]["id"] == refund["id"]
    assert (await events_for(engine, payment["id"])).count("refund.created") == 2


async def test_refund_more_than_the_amount_is_400_and_creates_nothing(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
    completed_payment: CompletedPayment,
) -> None:
    payment = await completed_payment(1_000)
    base = f"/payments/{payment['id']}/refunds"
    for body in ({"amount": 1_001}, {"amount": 0}, {"amount": 10.5}, {"amount": "5"}):
        response = await client.post(base, json=body, headers=merchant.headers)
        assert_error(response, 400, "invalid_request_error")
    assert (await client.get(base, headers=merchant.headers)).json()["data"] == []


async def test_two_concurrent_refunds_cannot_exceed_the_amount(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
    completed_payment: CompletedPayment,
) -> None:
    payment = await completed_payment(1_000)
    base = f"/payments/{payment['id']}/refunds"
    responses = await asyncio.gather(
        *(client.post(base, json={"amount": 600}, headers=merchant.headers) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [201, 400]
    async with engine.connect() as connection:
        total = await connection.execute(
            text("SELECT coalesce(sum(amount), 0) FROM refunds WHERE payment_id = :id"),
            {"id": payment["id"]},
        )
        assert total.scalar_one() == 600


@pytest.mark.parametrize("stage", [None, "processing", "failed"])
async def test_only_completed_payments_can_be_refunded(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
    stage: str | None,
) -> None:
    payment = await create_payment(client, merchant, card_method)
    if stage is not None:
        await drive(engine, payment["id"], to=stage)
    response = await client.post(f"/payments/{payment['id']}/refunds", headers=merchant.headers)
    assert_error(response, 409, "invalid_state_error", "payment_not_refundable")


async def test_refund_idempotency_key_is_honoured(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
    completed_payment: CompletedPayment,
) -> None:
    payment = await completed_payment(1_000)
    headers = {**merchant.headers, "Idempotency-Key": f"refund-{payment['id']}"}
    base = f"/payments/{payment['id']}/refunds"
    first = await client.post(base, json={"amount": 400}, headers=headers)
    again = await client.post(base, json={"amount": 400}, headers=headers)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len((await client.get(base, headers=merchant.headers)).json()["data"]) == 1


async def test_refunds_and_cancel_of_another_merchant_are_404(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
    onboard: OnboardMerchant,
    completed_payment: CompletedPayment,
) -> None:
    payment = await completed_payment(1_000)
    refund = (
        await client.post(
            f"/payments/{payment['id']}/refunds", json={"amount": 1}, headers=merchant.headers
        )
    ).json()["data"]
    other = await onboard()
    for method, path in (
        ("POST", f"/payments/{payment['id']}/cancel"),
        ("POST", f"/payments/{payment['id']}/refunds"),
        ("GET", f"/payments/{payment['id']}/refunds"),
        ("GET", f"/refunds/{refund['id']}"),
        ("GET", f"/refunds/{uuid.uuid4()}"),
        ("GET", "/refunds/not-a-uuid"),
    ):
        response = await client.request(method, path, headers=other.headers)
        assert_error(response, 404, "invalid_request_error", "resource_missing")
    listed = await client.get(f"/payments/{payment['id']}/refunds", headers=merchant.headers)
    assert len(listed.json()["data"]) == 1
