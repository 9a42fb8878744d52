"""A merchant's connectors (CONTRACT.md §1, "Connectors"): credentials go in sealed and never come
out (not in responses, not in clear in the database), their mode must match the API key's, and
every connector is its merchant's alone."""

from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_core.connectors.models import Connector
from payments_core.connectors.service import credentials
from payments_core.db.engine import create_session_factory
from payments_core.webhooks.secret_box import SecretBox
from tests.api.support import (
    WEBHOOK_ENCRYPTION_KEY,
    MerchantFixture,
    OnboardMerchant,
    api_settings,
    assert_error,
)

SECRET_KEY = "sk_test_" + "ConnectorTestKey" * 2
WEBHOOK_SECRET = "whsec_" + "ConnectorTestHook" * 2


async def _create(
    client: httpx.AsyncClient, merchant: MerchantFixture, **body: Any
) -> httpx.Response:
    payload = {
        "type": "stripe",
        "credentials": {"secretKey": SECRET_KEY, "webhookSecret": WEBHOOK_SECRET},
        **body,
    }
    return await client.post("/connectors", json=payload, headers=merchant.headers)


async def test_credentials_are_sealed_and_never_returned(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    created = await _create(client, merchant, priority=5)

    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert {key: data[key] for key in ("type", "priority", "enabled", "mode")} == {
        "type": "stripe",
        "priority": 5,
        "enabled": True,
        "mode": "test",
    }
    assert data["credentialsLast4"] == SECRET_KEY[-4:]
    listed = await client.get("/connectors", headers=merchant.headers)
    fetched = await client.get(f"/connectors/{data['id']}", headers=merchant.headers)
    for response in (created, listed, fetched):
        assert SECRET_KEY not in response.text and WEBHOOK_SECRET not in response.text
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT row_to_json(c)::text FROM connectors c WHERE id = :id"),
                {"id": data["id"]},
            )
        ).scalar_one()
    assert SECRET_KEY not in row and WEBHOOK_SECRET not in row
    # Sealed, bound to its row: the key opens it for the processor's calls, nothing else.
    async with create_session_factory(engine)() as session:
        connector = await session.get(Connector, data["id"])
        assert connector is not None
        opened = credentials(connector, SecretBox(WEBHOOK_ENCRYPTION_KEY))
    assert (opened.secret_key, opened.webhook_secret) == (SECRET_KEY, WEBHOOK_SECRET)


async def test_live_credentials_are_refused_with_a_test_key(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    response = await client.post(
        "/connectors",
        json={"type": "stripe", "credentials": {"secretKey": "sk_live_" + "x" * 24}},
        headers=merchant.headers,
    )

    error = assert_error(response, 400, "invalid_request_error", "connector_mode_mismatch")
    assert "sk_live_" not in response.text
    assert error["error"]["param"] == "credentials.secretKey"
    listed = await client.get("/connectors", headers=merchant.headers)
    assert listed.json()["data"] == []


async def test_bad_bodies_are_400_and_never_echo_the_key(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    for body in (
        {"type": "paypal", "credentials": {"secretKey": SECRET_KEY}},
        {"type": "stripe", "credentials": {"secretKey": "pk_test_" + "x" * 24}},
        {"type": "stripe", "credentials": {"secretKey": SECRET_KEY}, "priority": -1},
        {"type": "stripe"},
    ):
        response = await client.post("/connectors", json=body, headers=merchant.headers)
        assert_error(response, 400, "invalid_request_error")
        assert SECRET_KEY not in response.text


async def test_priority_enabled_and_credentials_change_and_delete_hides_it(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    connector = (await _create(client, merchant)).json()["data"]
    path = f"/connectors/{connector['id']}"

    changed = await client.patch(
        path,
        json={
            "priority": 2,
            "enabled": False,
            "credentials": {"secretKey": "sk_test_" + "n" * 20 + "WXYZ"},
        },
        headers=merchant.headers,
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert (data["priority"], data["enabled"], data["credentialsLast4"]) == (2, False, "WXYZ")

    deleted = await client.delete(path, headers=merchant.headers)
    assert deleted.status_code == 200, deleted.text
    assert_error(await client.get(path, headers=merchant.headers), 404, "invalid_request_error")
    assert (await client.get("/connectors", headers=merchant.headers)).json()["data"] == []


async def test_another_merchants_connector_is_not_found(
    client: httpx.AsyncClient, merchant: MerchantFixture, onboard: OnboardMerchant
) -> None:
    connector = (await _create(client, merchant)).json()["data"]
    other = await onboard()

    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method,
            f"/connectors/{connector['id']}",
            json={"priority": 9} if method == "PATCH" else None,
            headers=other.headers,
        )
        assert_error(response, 404, "invalid_request_error")
    fetched = await client.get(f"/connectors/{connector['id']}", headers=merchant.headers)
    assert fetched.json()["data"]["priority"] == 0


def test_a_malformed_connector_key_stops_the_api_naming_it() -> None:
    with pytest.raises(ValidationError) as refused:
        api_settings("postgresql://db/x", connector_encryption_key="not-base64-of-32-bytes")
    assert "connector_encryption_key" in str(refused.value)
    # Unset or empty: the webhook key seals connector credentials too.
    unset = api_settings("postgresql://db/x", connector_encryption_key="")
    assert unset.connector_encryption_key is None
