"""Idempotency-Key semantics (CONTRACT.md §1, Stripe's): replay, reuse, in use, validation."""

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_api.app import create_app
from payments_api.idempotent import SHOWN_ONCE_PLACEHOLDER
from payments_core.idempotency.service import fingerprint
from tests.api.support import (
    OPERATOR,
    MerchantFixture,
    api_settings,
    assert_error,
    running_client,
    unique_email,
)


def payment_body(method: dict[str, Any], amount: int = 5000) -> dict[str, Any]:
    return {"amount": amount, "currency": "NGN", "paymentMethodId": method["id"]}


async def count_payments(engine: AsyncEngine, merchant: MerchantFixture) -> int:
    async with engine.connect() as connection:
        query = text("SELECT count(*) FROM payments WHERE merchant_id = :merchant")
        return int((await connection.execute(query, {"merchant": merchant.id})).scalar_one())


async def test_retry_with_same_key_replays_the_first_response_and_creates_nothing(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "order-1"}
    first = await client.post("/payments", json=payment_body(card_method), headers=headers)
    again = await client.post("/payments", json=payment_body(card_method), headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count_payments(engine, merchant) == 1


async def test_key_order_and_whitespace_do_not_change_the_fingerprint(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "order-2", "Content-Type": "application/json"}
    first = await client.post(
        "/payments",
        content=f'{{"amount":7,"paymentMethodId":"{card_method["id"]}"}}',
        headers=headers,
    )
    again = await client.post(
        "/payments",
        content=f'{{ "paymentMethodId": "{card_method["id"]}",  "amount": 7 }}',
        headers=headers,
    )
    assert again.json() == first.json()


async def test_same_key_with_a_different_body_is_refused(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "order-3"}
    await client.post("/payments", json=payment_body(card_method, 100), headers=headers)
    reused = await client.post("/payments", json=payment_body(card_method, 200), headers=headers)

    assert_error(reused, 422, "idempotency_error", "idempotency_key_reused")
    assert await count_payments(engine, merchant) == 1


async def test_same_key_on_a_different_path_is_refused(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "shared-key"}
    await client.post("/payments", json=payment_body(card_method), headers=headers)
    other = await client.post(
        "/payment-methods", json={"type": "wallet", "provider": "x"}, headers=headers
    )
    assert_error(other, 422, "idempotency_error", "idempotency_key_reused")


async def test_keys_are_scoped_to_the_merchant(
    client: httpx.AsyncClient, onboard: Any, card_method: dict[str, Any], merchant: Any
) -> None:
    other = await onboard()
    other_method = await client.post(
        "/payment-methods", json={"type": "wallet"}, headers=other.headers
    )
    key = {"Idempotency-Key": "same-everywhere"}
    mine = await client.post(
        "/payments", json=payment_body(card_method), headers={**merchant.headers, **key}
    )
    theirs = await client.post(
        "/payments",
        json=payment_body(other_method.json()["data"]),
        headers={**other.headers, **key},
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["data"]["id"] != theirs.json()["data"]["id"]


async def test_concurrent_request_with_the_same_key_gets_409_then_the_key_replays(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "race"}
    # Hold the payments table so the first request stays in flight after claiming the key.
    async with engine.connect() as blocker:
        transaction = await blocker.begin()
        await blocker.execute(text("LOCK TABLE payments IN EXCLUSIVE MODE"))
        first = asyncio.create_task(
            client.post("/payments", json=payment_body(card_method), headers=headers)
        )
        await _wait_for_claim(engine, merchant)
        second = await client.post("/payments", json=payment_body(card_method), headers=headers)
        await transaction.rollback()
    first_response = await first

    assert_error(second, 409, "idempotency_error", "idempotency_key_in_use")
    assert first_response.status_code == 201
    third = await client.post("/payments", json=payment_body(card_method), headers=headers)
    assert third.json() == first_response.json()
    assert await count_payments(engine, merchant) == 1


async def test_many_concurrent_requests_with_one_key_create_one_payment(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "stampede"}
    responses = await asyncio.gather(
        *(
            client.post("/payments", json=payment_body(card_method), headers=headers)
            for _ in range(8)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) <= {201, 409} and 201 in statuses
    created = {r.json()["data"]["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    assert await count_payments(engine, merchant) == 1


async def test_a_request_rejected_by_validation_is_not_stored(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "fix-and-retry"}
    bad = await client.post("/payments", json=payment_body(card_method, -1), headers=headers)
    assert_error(bad, 400, "invalid_request_error")
    unsupported = {**payment_body(card_method), "currency": "XXX"}
    refused = await client.post("/payments", json=unsupported, headers=headers)
    assert_error(refused, 400, "invalid_request_error", "currency_not_supported")

    fixed = await client.post("/payments", json=payment_body(card_method), headers=headers)
    assert fixed.status_code == 201


async def test_a_business_refusal_is_stored_and_replayed(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "missing-method"}
    body = {"amount": 10, "paymentMethodId": "6f1d3f4e-0000-4000-8000-000000000000"}
    first = await client.post("/payments", json=body, headers=headers)
    again = await client.post("/payments", json=body, headers=headers)
    assert_error(first, 404, "invalid_request_error", "resource_missing")
    assert again.status_code == 404 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_lock_left_by_a_dead_request_is_taken_over(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    body = payment_body(card_method)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO idempotency_keys (id, merchant_id, key, method, path, fingerprint,"
                " locked_at) VALUES (gen_random_uuid(), :merchant, 'crashed', 'POST',"
                " '/api/v1/payments', :fingerprint, now() - interval '5 minutes')"
            ),
            {"merchant": merchant.id, "fingerprint": fingerprint(body)},
        )
    retry = await client.post(
        "/payments", json=body, headers={**merchant.headers, "Idempotency-Key": "crashed"}
    )
    assert retry.status_code == 201


async def test_key_longer_than_255_characters_is_a_400(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "k" * 256}
    response = await client.post("/payments", json=payment_body(card_method), headers=headers)
    assert_error(response, 400, "invalid_request_error")


async def test_operator_onboarding_is_idempotent_too(client: httpx.AsyncClient) -> None:

    body = {"name": "Once", "email": unique_email()}
    headers = {**OPERATOR, "Idempotency-Key": body["email"]}
    first = await client.post("/merchants", json=body, headers=headers)
    again = await client.post("/merchants", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    # The same merchant, not a second one; its key is shown once and never stored in clear.
    replayed, original = again.json()["data"], first.json()["data"]
    assert replayed["id"] == original["id"]
    assert replayed["apiKey"] == SHOWN_ONCE_PLACEHOLDER != original["apiKey"]
    assert {**replayed, "apiKey": None} == {**original, "apiKey": None}


async def _wait_for_claim(engine: AsyncEngine, merchant: MerchantFixture) -> None:
    query = text(
        "SELECT count(*) FROM idempotency_keys WHERE merchant_id = :merchant AND key = 'race'"
    )
    for _ in range(200):
        async with engine.connect() as connection:
            if (await connection.execute(query, {"merchant": merchant.id})).scalar_one():
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the first request never claimed its key")


async def test_keyed_requests_beyond_the_pool_size_do_not_deadlock_it(
    database_url: str, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    """A request holds one pooled connection at a time: with more keyed requests in flight
    than connections, none waits for a second connection while holding its first (that
    deadlocked the pool until its 30 s timeout under `make bench`)."""
    app = create_app(api_settings(database_url, database_pool_size=1))  # 1 + 1 overflow
    async with running_client(app) as small_pool_client:

        async def create(index: int) -> int:
            headers = {**merchant.headers, "Idempotency-Key": f"pool-{index}"}
            body = payment_body(card_method)
            response = await small_pool_client.post("/payments", json=body, headers=headers)
            return response.status_code

        statuses = await asyncio.wait_for(asyncio.gather(*(create(i) for i in range(6))), 20)

    assert statuses == [201] * 6
