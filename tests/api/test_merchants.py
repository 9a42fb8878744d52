"""Operator onboarding and the merchant's own view."""

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.support import OPERATOR, MerchantFixture, OnboardMerchant, assert_error, unique_email


async def test_onboarding_returns_the_key_once(
    client: httpx.AsyncClient, onboard: OnboardMerchant
) -> None:
    merchant = await onboard(name="Acme", webhookUrl="https://acme.example/hooks")
    assert merchant.api_key.startswith("sk_test_") and len(merchant.api_key) >= 8 + 32
    assert merchant.body["webhookUrl"] == "https://acme.example/hooks"
    me = await client.get("/merchants/me", headers=merchant.headers)
    assert me.status_code == 200
    assert me.json()["data"]["id"] == merchant.id
    assert "apiKey" not in me.json()["data"] and merchant.api_key not in me.text


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
