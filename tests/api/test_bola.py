"""Object-level authorization: another merchant's id answers like one that does not exist."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.support import TEST_CARD, MerchantFixture, OnboardMerchant, assert_error


@dataclass
class Owner:
    """Merchant A and its objects."""

    merchant: MerchantFixture
    method: dict[str, Any]
    payment: dict[str, Any]
    extra_key: dict[str, Any]

    def ids(self) -> dict[str, str]:
        return {
            "payment_id": self.payment["id"],
            "system_reference": self.payment["reference"],
            "merchant_reference": self.payment["merchantReference"],
            "method_id": self.method["id"],
            "key_id": self.extra_key["id"],
        }


def nonexistent_ids() -> dict[str, str]:
    return {
        "payment_id": str(uuid.uuid4()),
        "system_reference": "PAY-" + uuid.uuid4().hex[:16].upper(),
        "merchant_reference": f"ORDER-{uuid.uuid4().hex}",
        "method_id": str(uuid.uuid4()),
        "key_id": str(uuid.uuid4()),
    }


@pytest.fixture
async def owner(client: httpx.AsyncClient, onboard: OnboardMerchant) -> Owner:
    merchant = await onboard(name="Merchant A")
    method = await client.post(
        "/payment-methods", json={"type": "card", "card": TEST_CARD}, headers=merchant.headers
    )
    assert method.status_code == 201, method.text
    payment = await client.post(
        "/payments",
        json={
            "amount": 4200,
            "paymentMethodId": method.json()["data"]["id"],
            "reference": f"A-ORDER-{uuid.uuid4().hex[:8]}",
        },
        headers=merchant.headers,
    )
    assert payment.status_code == 201, payment.text
    key = await client.post("/merchants/me/api-keys", headers=merchant.headers)
    assert key.status_code == 201, key.text
    return Owner(merchant, method.json()["data"], payment.json()["data"], key.json()["data"])


@pytest.fixture
async def intruder(onboard: OnboardMerchant) -> MerchantFixture:
    return await onboard(name="Merchant B")


# (method, path template, JSON body template or None)
OBJECT_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/payments/{payment_id}", None),
    ("GET", "/payments/reference/{system_reference}", None),
    ("GET", "/payments/reference/{merchant_reference}", None),
    ("GET", "/payment-methods/{method_id}", None),
    ("DELETE", "/payment-methods/{method_id}", None),
    ("DELETE", "/merchants/me/api-keys/{key_id}", None),
    ("POST", "/payments", {"amount": 1000, "paymentMethodId": "{method_id}"}),
]


def fill(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {key: fill(value, ids) for key, value in template.items()}
    return template


async def call(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    ids: dict[str, str],
) -> httpx.Response:
    return await client.request(
        method, fill(path, ids), json=fill(body, ids), headers=merchant.headers
    )


async def count_rows(engine: AsyncEngine, table: str, merchant: MerchantFixture) -> int:
    query = text(f"SELECT count(*) FROM {table} WHERE merchant_id = :merchant")  # noqa: S608
    async with engine.connect() as connection:
        return int((await connection.execute(query, {"merchant": merchant.id})).scalar_one())


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [pytest.param(*endpoint, id=f"{endpoint[0]} {endpoint[1]}") for endpoint in OBJECT_ENDPOINTS],
)
async def test_another_merchants_object_answers_like_a_missing_one(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    owner: Owner,
    intruder: MerchantFixture,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    missing = await call(client, intruder, method, path, body, nonexistent_ids())
    foreign = await call(client, intruder, method, path, body, owner.ids())

    missing_error = assert_error(missing, 404, "invalid_request_error")["error"]
    foreign_error = assert_error(foreign, 404, "invalid_request_error")["error"]
    assert (foreign_error["type"], foreign_error["code"], foreign_error.get("param")) == (
        missing_error["type"],
        missing_error["code"],
        missing_error.get("param"),
    )
    assert owner.merchant.id not in foreign.text
    await assert_owner_unchanged(client, owner)
    assert await count_rows(engine, "payments", intruder) == 0
    assert await count_rows(engine, "outbox", intruder) == 0


async def assert_owner_unchanged(client: httpx.AsyncClient, owner: Owner) -> None:
    headers = owner.merchant.headers
    method = await client.get(f"/payment-methods/{owner.method['id']}", headers=headers)
    assert method.status_code == 200, method.text
    assert method.json()["data"] == owner.method
    assert method.json()["data"]["isActive"] is True
    payment = await client.get(f"/payments/{owner.payment['id']}", headers=headers)
    assert payment.status_code == 200, payment.text
    assert payment.json()["data"] == owner.payment
    extra = await client.get("/merchants/me", headers={"X-API-Key": owner.extra_key["apiKey"]})
    assert extra.status_code == 200, "A's key must keep working"
    assert extra.json()["data"]["id"] == owner.merchant.id


async def test_another_merchants_lists_never_contain_the_owners_objects(
    client: httpx.AsyncClient, owner: Owner, intruder: MerchantFixture
) -> None:
    own_method = await client.post(
        "/payment-methods", json={"type": "ussd"}, headers=intruder.headers
    )
    assert own_method.status_code == 201, own_method.text
    own_payment = await client.post(
        "/payments",
        json={"amount": 1, "paymentMethodId": own_method.json()["data"]["id"]},
        headers=intruder.headers,
    )
    assert own_payment.status_code == 201, own_payment.text

    for path, own_id, foreign_id in (
        ("/payments", own_payment.json()["data"]["id"], owner.payment["id"]),
        ("/payment-methods", own_method.json()["data"]["id"], owner.method["id"]),
    ):
        listed = await client.get(path, params={"limit": 100}, headers=intruder.headers)
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()["data"]] == [own_id]
        assert foreign_id not in listed.text
        assert owner.merchant.id not in listed.text
    me = await client.get("/merchants/me", headers=intruder.headers)
    assert me.json()["data"]["id"] == intruder.id


async def test_the_owners_cursor_does_not_open_the_owners_list_to_another_merchant(
    client: httpx.AsyncClient, owner: Owner, intruder: MerchantFixture
) -> None:
    for amount in (1, 2):
        created = await client.post(
            "/payments",
            json={"amount": amount, "paymentMethodId": owner.method["id"]},
            headers=owner.merchant.headers,
        )
        assert created.status_code == 201, created.text
    first = await client.get("/payments", params={"limit": 1}, headers=owner.merchant.headers)
    cursor = first.json()["pagination"]["nextCursor"]
    assert cursor

    response = await client.get(
        "/payments", params={"limit": 100, "cursor": cursor}, headers=intruder.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [pytest.param(*endpoint, id=f"{endpoint[0]} {endpoint[1]}") for endpoint in OBJECT_ENDPOINTS],
)
async def test_the_owner_itself_reaches_every_object(
    client: httpx.AsyncClient,
    owner: Owner,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """The 404s above come from ownership, not from endpoints that never find anything."""
    response = await call(client, owner.merchant, method, path, body, owner.ids())

    assert response.status_code in (200, 201), response.text
