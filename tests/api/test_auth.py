"""Authentication (CONTRACT.md §1): merchant keys, the operator token, revocation, hashing."""

import hashlib
import secrets
import string
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.support import ADMIN_TOKEN, OPERATOR, MerchantFixture, assert_error, unique_email

MERCHANT_ROUTES = [
    ("GET", "/merchants/me"),
    ("GET", "/payments"),
    ("POST", "/payments"),
    ("GET", f"/payments/{uuid.uuid4()}"),
    ("GET", "/payment-methods"),
    ("POST", "/payment-methods"),
    ("POST", "/merchants/me/api-keys"),
    ("DELETE", f"/merchants/me/api-keys/{uuid.uuid4()}"),
]
ROUTE_IDS = [f"{method} {path.split('/')[1]}" for method, path in MERCHANT_ROUTES]


def random_key(prefix: str = "sk_test_") -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(40))


async def issue_key(client: httpx.AsyncClient, merchant: MerchantFixture) -> dict[str, Any]:
    response = await client.post("/merchants/me/api-keys", headers=merchant.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def whoami(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/merchants/me", headers=headers)


@pytest.mark.parametrize(("method", "path"), MERCHANT_ROUTES, ids=ROUTE_IDS)
async def test_missing_key_is_401(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path, json={})

    assert_error(response, 401, "authentication_error")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-API-Key": random_key()}, id="unknown test key"),
        pytest.param({"X-API-Key": random_key("sk_live_")}, id="unknown live key"),
        pytest.param({"Authorization": f"Bearer {random_key()}"}, id="unknown bearer key"),
        pytest.param({"X-API-Key": "not-a-key"}, id="malformed"),
        pytest.param({"X-API-Key": "sk_test_short"}, id="too short"),
        pytest.param({"X-API-Key": random_key("pk_test_")}, id="publishable prefix"),
        pytest.param({"X-API-Key": "sk_test_" + "A" * 2000}, id="very long"),
        pytest.param({"X-API-Key": ""}, id="empty"),
        pytest.param({"Authorization": "Bearer"}, id="bearer without a token"),
        pytest.param({"Authorization": f"Basic {random_key()}"}, id="basic scheme"),
    ],
)
@pytest.mark.parametrize(("method", "path"), MERCHANT_ROUTES[:3], ids=ROUTE_IDS[:3])
async def test_unknown_or_malformed_key_is_401(
    client: httpx.AsyncClient, headers: dict[str, str], method: str, path: str
) -> None:
    response = await client.request(method, path, json={}, headers=headers)

    assert_error(response, 401, "authentication_error")


async def test_bearer_key_works_like_x_api_key(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    via_header = await whoami(client, merchant.headers)
    via_bearer = await whoami(client, {"Authorization": f"Bearer {merchant.api_key}"})

    assert via_header.status_code == via_bearer.status_code == 200
    assert via_bearer.json()["data"] == via_header.json()["data"]
    assert via_bearer.json()["data"]["id"] == merchant.id
    created = await client.post(
        "/payment-methods",
        json={"type": "ussd"},
        headers={"Authorization": f"Bearer {merchant.api_key}"},
    )
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(OPERATOR, id="bearer"),
        pytest.param({"X-API-Key": ADMIN_TOKEN}, id="x-api-key"),
    ],
)
@pytest.mark.parametrize(("method", "path"), MERCHANT_ROUTES, ids=ROUTE_IDS)
async def test_operator_token_is_not_a_merchant_key(
    client: httpx.AsyncClient, headers: dict[str, str], method: str, path: str
) -> None:
    response = await client.request(method, path, json={}, headers=headers)

    assert_error(response, 401, "authentication_error")


async def count_merchants(engine: AsyncEngine, email: str) -> int:
    query = text("SELECT count(*) FROM merchants WHERE lower(email) = lower(:email)")
    async with engine.connect() as connection:
        return int((await connection.execute(query, {"email": email})).scalar_one())


@pytest.mark.parametrize("scheme", ["x-api-key", "bearer"])
async def test_merchant_key_is_not_an_operator_token(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine, scheme: str
) -> None:
    headers = (
        merchant.headers
        if scheme == "x-api-key"
        else {"Authorization": f"Bearer {merchant.api_key}"}
    )
    email = unique_email()

    created = await client.post(
        "/merchants", json={"name": "Sneaky", "email": email}, headers=headers
    )
    listed = await client.get("/merchants", headers=headers)

    assert_error(created, 401, "authentication_error")
    assert_error(listed, 401, "authentication_error")
    assert await count_merchants(engine, email) == 0


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="none"),
        pytest.param({"Authorization": f"Bearer {ADMIN_TOKEN}x"}, id="longer"),
        pytest.param({"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"}, id="shorter"),
        pytest.param({"Authorization": "Bearer wrong-token-0123456789"}, id="wrong"),
        pytest.param({"Authorization": f"Basic {ADMIN_TOKEN}"}, id="basic scheme"),
        pytest.param({"X-API-Key": ADMIN_TOKEN}, id="token in x-api-key"),
    ],
)
async def test_wrong_operator_token_is_401(
    client: httpx.AsyncClient, engine: AsyncEngine, headers: dict[str, str]
) -> None:
    email = unique_email()

    created = await client.post("/merchants", json={"name": "N", "email": email}, headers=headers)
    listed = await client.get("/merchants", headers=headers)

    assert_error(created, 401, "authentication_error")
    assert_error(listed, 401, "authentication_error")
    assert await count_merchants(engine, email) == 0


async def test_operator_token_opens_operator_routes(client: httpx.AsyncClient) -> None:
    """The refusals above are about the credential: the right token is let in."""
    response = await client.get("/merchants", params={"limit": 1}, headers=OPERATOR)

    assert response.status_code == 200, response.text


async def test_issued_key_has_the_contract_shape_and_works(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    key = await issue_key(client, merchant)

    assert {"id", "prefix", "lastFour", "mode", "createdAt", "apiKey"} <= set(key)
    uuid.UUID(key["id"])
    assert key["apiKey"].startswith("sk_test_") and len(key["apiKey"]) >= len("sk_test_") + 32
    assert key["apiKey"] != merchant.api_key
    assert key["apiKey"].startswith(key["prefix"]) and len(key["prefix"]) < len(key["apiKey"])
    assert key["apiKey"].endswith(key["lastFour"]) and len(key["lastFour"]) == 4
    assert key["mode"] == "test"
    me = await whoami(client, {"X-API-Key": key["apiKey"]})
    assert me.status_code == 200 and me.json()["data"]["id"] == merchant.id


async def test_revoked_key_is_401_while_the_other_key_still_works(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    key = await issue_key(client, merchant)
    revoked_headers = {"X-API-Key": key["apiKey"]}
    assert (await whoami(client, revoked_headers)).status_code == 200

    revoked = await client.delete(f"/merchants/me/api-keys/{key['id']}", headers=merchant.headers)

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["data"]["id"] == key["id"]
    assert "apiKey" not in revoked.json()["data"]
    assert key["apiKey"] not in revoked.text
    assert_error(await whoami(client, revoked_headers), 401, "authentication_error")
    bearer = {"Authorization": f"Bearer {key['apiKey']}"}
    assert_error(await whoami(client, bearer), 401, "authentication_error")
    payment_methods = await client.post(
        "/payment-methods", json={"type": "ussd"}, headers=revoked_headers
    )
    assert_error(payment_methods, 401, "authentication_error")
    still = await whoami(client, merchant.headers)
    assert still.status_code == 200 and still.json()["data"]["id"] == merchant.id


async def test_a_key_can_revoke_itself_and_the_new_key_keeps_working(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    replacement = await issue_key(client, merchant)
    async with engine.connect() as connection:
        original_id = (
            await connection.execute(
                text("SELECT id::text FROM api_keys WHERE key_hash = :hash"),
                {"hash": hashlib.sha256(merchant.api_key.encode()).hexdigest()},
            )
        ).scalar_one()

    revoked = await client.delete(f"/merchants/me/api-keys/{original_id}", headers=merchant.headers)

    assert revoked.status_code == 200, revoked.text
    assert_error(await whoami(client, merchant.headers), 401, "authentication_error")
    assert (await whoami(client, {"X-API-Key": replacement["apiKey"]})).status_code == 200


async def api_key_rows(engine: AsyncEngine, merchant: MerchantFixture) -> list[tuple[str, str]]:
    query = text(
        "SELECT row_to_json(t)::text, key_hash FROM api_keys t WHERE merchant_id = :merchant"
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query, {"merchant": merchant.id})).all()
        return [(row[0], row[1]) for row in rows]


async def test_keys_are_stored_only_as_their_sha256(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    issued = await issue_key(client, merchant)
    plaintexts = [merchant.api_key, issued["apiKey"]]

    rows = await api_key_rows(engine, merchant)

    assert len(rows) == 2
    assert sorted(key_hash for _, key_hash in rows) == sorted(
        hashlib.sha256(plaintext.encode()).hexdigest() for plaintext in plaintexts
    )
    for row_json, _ in rows:
        for plaintext in plaintexts:
            assert plaintext not in row_json
            assert plaintext[len("sk_test_") :] not in row_json


async def test_keys_issued_with_an_idempotency_key_are_not_stored_in_plaintext(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    """Keys are 'stored only as a hash': the idempotency record must not keep the key either."""
    issued = await client.post(
        "/merchants/me/api-keys",
        headers={**merchant.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"},
    )
    onboarded = await client.post(
        "/merchants",
        json={"name": "Idem", "email": unique_email()},
        headers={**OPERATOR, "Idempotency-Key": f"onboard-{uuid.uuid4()}"},
    )
    assert issued.status_code == onboarded.status_code == 201
    plaintexts = [issued.json()["data"]["apiKey"], onboarded.json()["data"]["apiKey"]]

    query = text(
        "SELECT count(*) FROM idempotency_keys t WHERE strpos(row_to_json(t)::text, :key) > 0"
    )
    async with engine.connect() as connection:
        for plaintext in plaintexts:
            found = (await connection.execute(query, {"key": plaintext})).scalar_one()
            assert found == 0, "an API key's plaintext is stored in idempotency_keys"


async def test_merchant_view_never_contains_a_key(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    issued = await issue_key(client, merchant)

    response = await whoami(client, merchant.headers)

    assert response.status_code == 200
    data = response.json()["data"]
    assert "apiKey" not in data and "apiKeys" not in data
    hashes = [key_hash for _, key_hash in await api_key_rows(engine, merchant)]
    for secret in [merchant.api_key, issued["apiKey"], *hashes]:
        assert secret not in response.text
    listed = await client.get("/merchants", params={"limit": 100}, headers=OPERATOR)
    assert merchant.api_key not in listed.text
    assert all("apiKey" not in item for item in listed.json()["data"])
