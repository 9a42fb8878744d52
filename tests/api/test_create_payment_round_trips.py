"""The create-payment hot path: what the database receives, and its fallbacks.

Every create-payment pays for its round trips on both sides of the wire (README "Performance"),
so their number is behaviour worth guarding: the edge's rate-limit count with the key lookup,
the Idempotency-Key claim, and one statement writing the payment, its event and the stored
response, with no BEGIN/COMMIT around them.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import opentelemetry.metrics
import opentelemetry.trace
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_api.app import create_app
from payments_api.state import ApiState
from payments_core.telemetry.metrics import PAYMENT_TRANSITIONS
from tests.api.support import (
    OPERATOR,
    TEST_CARD,
    MerchantFixture,
    api_settings,
    running_client,
    unique_email,
)


@pytest.fixture
async def app(database_url: str) -> FastAPI:
    return create_app(api_settings(database_url))


@pytest.fixture
async def app_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running_client(app) as api_client:
        yield api_client


@asynccontextmanager
async def statements_sent(app: FastAPI) -> AsyncIterator[list[str]]:
    """Every statement the app's pooled connections send while the block runs."""
    state: ApiState = app.state.api
    sent: list[str] = []
    recording = [True]

    def record(query: Any) -> None:
        if recording[0]:
            sent.append(" ".join(query.query.split()))

    logged: set[int] = set()

    @event.listens_for(state.engine.sync_engine, "checkout")
    def on_checkout(dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        if id(driver) not in logged:
            logged.add(id(driver))
            driver.add_query_logger(record)

    try:
        yield sent
        await asyncio.sleep(0)  # asyncpg hands each logged query over with call_soon
    finally:
        recording[0] = False
        event.remove(state.engine.sync_engine, "checkout", on_checkout)


async def _merchant_with_method(client: httpx.AsyncClient) -> tuple[MerchantFixture, str]:
    onboarded = await client.post(
        "/merchants", json={"name": "Round trips", "email": unique_email()}, headers=OPERATOR
    )
    data = onboarded.json()["data"]
    merchant = MerchantFixture(data["id"], data["email"], data["apiKey"], data)
    method = await client.post(
        "/payment-methods", json={"type": "card", "card": TEST_CARD}, headers=merchant.headers
    )
    return merchant, method.json()["data"]["id"]


async def test_a_keyed_create_payment_is_three_statements_and_no_transaction_block(
    app: FastAPI, app_client: httpx.AsyncClient
) -> None:
    merchant, method_id = await _merchant_with_method(app_client)
    body = {"amount": 5000, "currency": "NGN", "paymentMethodId": method_id}

    async with statements_sent(app) as sent:
        response = await app_client.post(
            "/payments", json=body, headers={**merchant.headers, "Idempotency-Key": "three"}
        )

    assert response.status_code == 201, response.text
    assert len(sent) == 3, sent
    count_and_key, claim, write = sent
    assert "rate_limit_counters" in count_and_key and "api_keys" in count_and_key
    assert claim.startswith("INSERT INTO idempotency_keys")
    assert all(table in write for table in ("INSERT INTO payments", "outbox", "idempotency_keys"))
    assert not any(statement.upper() in {"BEGIN", "COMMIT"} for statement in sent)


async def test_a_request_does_not_look_up_opentelemetry_providers(
    app_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI's own telemetry layer, unless switched off, asks OpenTelemetry for its global
    providers on every request (each lookup reads the environment): tracing is ours
    (payments_api.tracing), and only when it is on."""
    merchant, method_id = await _merchant_with_method(app_client)
    lookups: list[str] = []
    for module, name in (
        (opentelemetry.trace, "get_tracer_provider"),
        (opentelemetry.metrics, "get_meter_provider"),
    ):
        real = getattr(module, name)
        monkeypatch.setattr(
            module, name, lambda real=real, name=name: [lookups.append(name), real()][1]
        )
    body = {"amount": 5000, "currency": "NGN", "paymentMethodId": method_id}

    response = await app_client.post("/payments", json=body, headers=merchant.headers)

    assert response.status_code == 201, response.text
    assert lookups == []


async def test_without_a_key_it_is_two_statements(
    app: FastAPI, app_client: httpx.AsyncClient
) -> None:
    merchant, method_id = await _merchant_with_method(app_client)
    body = {"amount": 5000, "currency": "NGN", "paymentMethodId": method_id}

    async with statements_sent(app) as sent:
        response = await app_client.post("/payments", json=body, headers=merchant.headers)

    assert response.status_code == 201, response.text
    assert len(sent) == 2, sent


async def test_the_payment_event_and_stored_response_are_written_together(
    app_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    merchant, method_id = await _merchant_with_method(app_client)
    body = {"amount": 4200, "currency": "NGN", "paymentMethodId": method_id}
    headers = {**merchant.headers, "Idempotency-Key": "together"}

    created = (await app_client.post("/payments", json=body, headers=headers)).json()
    payment_id = created["data"]["id"]

    async with engine.connect() as connection:
        event_payload = (
            await connection.execute(
                text("SELECT payload FROM outbox WHERE payload->'data'->'payment'->>'id' = :id"),
                {"id": payment_id},
            )
        ).scalar_one()
        stored = (
            await connection.execute(
                text(
                    "SELECT response_status, response_body, locked_at FROM idempotency_keys"
                    " WHERE merchant_id = :merchant AND key = 'together'"
                ),
                {"merchant": merchant.id},
            )
        ).one()
    assert event_payload["type"] == "payment.initiated"
    assert event_payload["data"]["payment"] == created["data"]
    assert (stored.response_status, stored.response_body, stored.locked_at) == (201, created, None)


async def test_authentication_queries_itself_when_the_edge_could_not_look_the_key_up(
    app: FastAPI, app_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    merchant, method_id = await _merchant_with_method(app_client)
    state: ApiState = app.state.api

    async def unavailable(*_: Any, **__: Any) -> Any:
        raise ConnectionError("rate limiter down")

    monkeypatch.setattr(state.rate_limiter, "find_key_and_hit", unavailable)
    body = {"amount": 5000, "currency": "NGN", "paymentMethodId": method_id}

    accepted = await app_client.post("/payments", json=body, headers=merchant.headers)
    # Another last character: "x" alone leaves a key that ends in "x" valid (1 run in 62).
    wrong_key = merchant.api_key[:-1] + ("y" if merchant.api_key.endswith("x") else "x")
    refused = await app_client.post("/payments", json=body, headers={"X-API-Key": wrong_key})

    assert accepted.status_code == 201, accepted.text
    assert refused.status_code == 401


async def test_a_refused_create_counts_nothing(app_client: httpx.AsyncClient) -> None:
    merchant, method_id = await _merchant_with_method(app_client)
    body = {"amount": 5000, "currency": "GBP", "paymentMethodId": method_id, "reference": "r-1"}
    pending = PAYMENT_TRANSITIONS.labels(status="pending", currency="GBP", failure_reason="none")

    first = await app_client.post("/payments", json=body, headers=merchant.headers)
    counted = pending._value.get()
    duplicate = await app_client.post("/payments", json=body, headers=merchant.headers)

    assert first.status_code == 201, first.text
    assert duplicate.status_code == 409, duplicate.text
    assert pending._value.get() == counted
