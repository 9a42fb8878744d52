"""Operator onboarding and the merchant's own view."""

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_api.idempotent import SHOWN_ONCE_PLACEHOLDER
from payments_core.webhooks.secret_box import SecretBox
from tests.api.support import (
    OPERATOR,
    WEBHOOK_ENCRYPTION_KEY,
    MerchantFixture,
    OnboardMerchant,
    assert_error,
    unique_email,
)
from tests.api.webhook_support import PUBLIC_URL, local_development_client


async def test_onboarding_returns_the_key_once(
    client: httpx.AsyncClient, onboard: OnboardMerchant
) -> None:
    merchant = await onboard(name="Acme", webhookUrl=PUBLIC_URL)
    assert merchant.api_key.startswith("sk_test_") and len(merchant.api_key) >= 8 + 32
    assert merchant.body["webhookUrl"] == PUBLIC_URL
    me = await client.get("/merchants/me", headers=merchant.headers)
    assert me.status_code == 200
    assert me.json()["data"]["id"] == merchant.id
    assert "apiKey" not in me.json()["data"] and merchant.api_key not in me.text
    assert "webhookSecret" not in me.json()["data"]
    assert merchant.body["webhookSecret"] not in me.text


async def test_a_webhook_url_becomes_an_endpoint_for_every_event(
    client: httpx.AsyncClient, onboard: OnboardMerchant, engine: AsyncEngine
) -> None:
    merchant = await onboard(webhookUrl=PUBLIC_URL)
    secret = merchant.body["webhookSecret"]
    assert secret.startswith("whsec_")

    listed = await client.get("/webhook-endpoints", headers=merchant.headers)

    [endpoint] = listed.json()["data"]
    assert (endpoint["url"], endpoint["enabledEvents"], endpoint["disabled"]) == (
        PUBLIC_URL,
        ["*"],
        False,
    )
    assert secret not in listed.text
    async with engine.connect() as connection:
        query = text("SELECT secret_sealed FROM webhook_endpoints WHERE id = :id")
        sealed = (await connection.execute(query, {"id": endpoint["id"]})).scalar_one()
    assert secret not in sealed
    opened = SecretBox(WEBHOOK_ENCRYPTION_KEY).open(sealed, bound_to=endpoint["id"])
    assert opened.reveal() == secret


async def test_without_a_webhook_url_there_is_no_secret_and_no_endpoint(
    client: httpx.AsyncClient, onboard: OnboardMerchant
) -> None:
    merchant = await onboard()
    assert "webhookSecret" not in merchant.body and merchant.body["webhookUrl"] is None
    listed = await client.get("/webhook-endpoints", headers=merchant.headers)
    assert listed.json()["data"] == []


async def test_a_replayed_onboarding_reveals_neither_the_key_nor_the_secret(
    client: httpx.AsyncClient,
) -> None:
    body = {"name": "Once", "email": unique_email(), "webhookUrl": PUBLIC_URL}
    headers = {**OPERATOR, "Idempotency-Key": f"onboard-{unique_email()}"}
    first = await client.post("/merchants", json=body, headers=headers)
    again = await client.post("/merchants", json=body, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    original, replayed = first.json()["data"], again.json()["data"]
    assert replayed["webhookSecret"] == replayed["apiKey"] == SHOWN_ONCE_PLACEHOLDER
    assert original["webhookSecret"] not in again.text and original["apiKey"] not in again.text
    assert replayed["id"] == original["id"]


@pytest.mark.parametrize(
    ("webhook_url", "code"),
    [
        ("ftp://files.example", "url_invalid"),
        ("not a url", "url_invalid"),
        ("http://93.184.215.14/hooks", "url_invalid"),  # plain http outside local development
        ("https://10.0.0.1/hooks", "url_forbidden"),
        ("https://169.254.169.254/latest/meta-data/", "url_forbidden"),
        ("http://localhost/hooks", "url_forbidden"),
        ("https://no-such-host.invalid/hooks", "url_unresolvable"),
    ],
)
async def test_a_refused_webhook_url_is_400_and_creates_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, webhook_url: str, code: str
) -> None:
    email = unique_email()
    response = await client.post(
        "/merchants",
        json={"name": "Bad hook", "email": email, "webhookUrl": webhook_url},
        headers=OPERATOR,
    )

    error = assert_error(response, 400, "invalid_request_error", code)["error"]
    assert error["param"] == "webhookUrl" and error["message"].startswith("webhookUrl ")
    async with engine.connect() as connection:
        query = text("SELECT count(*) FROM merchants WHERE email = :email")
        assert (await connection.execute(query, {"email": email})).scalar_one() == 0


async def test_local_development_accepts_a_private_http_webhook_url(database_url: str) -> None:
    async with local_development_client(database_url) as local:
        response = await local.post(
            "/merchants",
            json={
                "name": "Local",
                "email": unique_email(),
                "webhookUrl": "http://localhost:4000/h",
            },
            headers=OPERATOR,
        )
        assert response.status_code == 201, response.text
        headers = {"X-API-Key": response.json()["data"]["apiKey"]}
        listed = await local.get("/webhook-endpoints", headers=headers)
    assert [endpoint["url"] for endpoint in listed.json()["data"]] == ["http://localhost:4000/h"]


async def test_duplicate_email_is_409_whatever_its_case(
    client: httpx.AsyncClient, onboard: OnboardMerchant
) -> None:
    merchant = await onboard()
    again = await client.post(
        "/merchants", json={"name": "Copy", "email": merchant.email.upper()}, headers=OPERATOR
    )
    assert_error(again, 409, "invalid_request_error", "resource_already_exists")


async def test_invalid_onboarding_input_is_400_and_creates_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    email = unique_email()
    cases = [
        {"name": "No email"},
        {"name": "Bad email", "email": "not-an-email"},
        {"name": "", "email": email},
        {"name": "Bad hook", "email": email, "webhookUrl": "ftp://files.example"},
        {"name": "Extra", "email": email, "isAdmin": True},
    ]
    for body in cases:
        assert_error(
            await client.post("/merchants", json=body, headers=OPERATOR),
            400,
            "invalid_request_error",
        )
    async with engine.connect() as connection:
        query = text("SELECT count(*) FROM merchants WHERE email = :email")
        assert (await connection.execute(query, {"email": email})).scalar_one() == 0


async def test_operator_lists_merchants_with_cursor_pagination(
    client: httpx.AsyncClient, onboard: OnboardMerchant
) -> None:
    created = [await onboard() for _ in range(3)]
    first = await client.get("/merchants", params={"limit": 2}, headers=OPERATOR)
    assert first.status_code == 200
    body = first.json()
    assert body["pagination"]["limit"] == 2 and body["pagination"]["hasMore"] is True
    newest_ids = [merchant["id"] for merchant in body["data"]]
    assert newest_ids == [created[2].id, created[1].id]
    second = await client.get(
        "/merchants",
        params={"limit": 2, "cursor": body["pagination"]["nextCursor"]},
        headers=OPERATOR,
    )
    assert second.json()["data"][0]["id"] == created[0].id


async def test_a_new_key_works_and_is_shown_once(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    issued = await client.post("/merchants/me/api-keys", headers=merchant.headers)
    assert issued.status_code == 201
    data = issued.json()["data"]
    assert data["apiKey"].startswith("sk_test_") and data["lastFour"] == data["apiKey"][-4:]
    assert data["prefix"] == data["apiKey"][:12]
    me = await client.get("/merchants/me", headers={"X-API-Key": data["apiKey"]})
    assert me.json()["data"]["id"] == merchant.id
