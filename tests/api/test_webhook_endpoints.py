"""Webhook endpoints: registration behind the URL guard, the secret shown once, changes,
rotation, deletion, and each merchant seeing only its own."""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from payments_api.idempotent import SHOWN_ONCE_PLACEHOLDER
from payments_core.webhooks.endpoints import live_secrets
from payments_core.webhooks.secret_box import SecretBox
from payments_core.webhooks.signing import webhook_headers
from tests.api.support import WEBHOOK_ENCRYPTION_KEY, MerchantFixture, OnboardMerchant, assert_error
from tests.api.webhook_support import (
    OTHER_PUBLIC_URL,
    PUBLIC_URL,
    create_endpoint,
    local_development_client,
)

# Refused with the guard on (WEBHOOK_ALLOW_PRIVATE_URLS=false), whatever the scheme.
FORBIDDEN_HOSTS = [
    "10.0.0.1",
    "127.0.0.1",
    "169.254.169.254",
    "[::1]",
    "[fc00::1]",
    "[::ffff:127.0.0.1]",
    "localhost",  # a name, resolving to a loopback address
]
FORBIDDEN_URLS = [
    f"{scheme}://{host}/hooks" for host in FORBIDDEN_HOSTS for scheme in ("https", "http")
]


async def endpoint_rows(engine: AsyncEngine, merchant: MerchantFixture) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT * FROM webhook_endpoints WHERE merchant_id = :merchant"),
            {"merchant": merchant.id},
        )
        return [dict(row._mapping) for row in rows]


async def test_create_shows_the_secret_once(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    response = await client.post(
        "/webhook-endpoints",
        json={"url": PUBLIC_URL, "description": "orders"},
        headers=merchant.headers,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["statusCode"] == 201 and body["message"]
    created = body["data"]
    secret = created.pop("secret")
    assert secret.startswith("whsec_")
    assert created == {
        "id": created["id"],
        "url": PUBLIC_URL,
        "description": "orders",
        "enabledEvents": ["*"],
        "disabled": False,
        "disabledReason": None,
        "previousSecretExpiresAt": None,
        "createdAt": created["createdAt"],
        "updatedAt": created["updatedAt"],
    }
    one = await client.get(f"/webhook-endpoints/{created['id']}", headers=merchant.headers)
    listed = await client.get("/webhook-endpoints", headers=merchant.headers)
    assert one.status_code == listed.status_code == 200
    assert one.json()["data"] == created
    assert listed.json()["data"] == [created]
    for shown in (one, listed):
        assert secret not in shown.text and '"secret"' not in shown.text


async def test_the_secret_is_sealed_at_rest(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    response = await client.post(
        "/webhook-endpoints", json={"url": PUBLIC_URL}, headers=merchant.headers
    )
    created = response.json()["data"]
    secret, key = created["secret"], created["secret"].removeprefix("whsec_")

    [row] = await endpoint_rows(engine, merchant)
    sealed = row["secret_sealed"]
    assert secret not in sealed and key not in sealed
    opened = SecretBox(WEBHOOK_ENCRYPTION_KEY).open(sealed, bound_to=created["id"])
    assert opened.reveal() == secret


async def test_an_idempotent_replay_does_not_reveal_the_secret(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": f"hook-{uuid.uuid4()}"}
    body = {"url": PUBLIC_URL, "enabledEvents": ["payment.completed"]}
    first = await client.post("/webhook-endpoints", json=body, headers=headers)
    again = await client.post("/webhook-endpoints", json=body, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    original, replayed = first.json()["data"], again.json()["data"]
    assert original["secret"].startswith("whsec_")
    assert replayed["secret"] == SHOWN_ONCE_PLACEHOLDER
    assert {**replayed, "secret": original["secret"]} == original
    assert original["secret"] not in again.text
    assert len(await endpoint_rows(engine, merchant)) == 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        pytest.param({}, "url", id="no url"),
        pytest.param({"url": ""}, "url", id="empty url"),
        pytest.param({"url": "not a url"}, "url", id="not a URL"),
        pytest.param({"url": "ftp://8.8.8.8/hooks"}, "url", id="ftp scheme"),
        pytest.param({"url": "javascript:alert(1)"}, "url", id="javascript scheme"),
        pytest.param({"url": "https:///hooks"}, "url", id="no host"),
        pytest.param({"url": PUBLIC_URL, "enabledEvents": "*"}, "enabledEvents", id="not a list"),
        pytest.param({"url": PUBLIC_URL, "enabledEvents": []}, "enabledEvents", id="empty list"),
        pytest.param(
            {"url": PUBLIC_URL, "enabledEvents": ["payment.exploded"]},
            "enabledEvents",
            id="unknown type",
        ),
        pytest.param({"url": PUBLIC_URL, "enabledEvents": [1]}, "enabledEvents.0", id="number"),
        pytest.param({"url": PUBLIC_URL, "secret": "whsec_mine"}, "secret", id="own secret"),
    ],
)
async def test_invalid_registrations_are_400_and_create_nothing(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    engine: AsyncEngine,
    body: dict[str, Any],
    param: str,
) -> None:
    response = await client.post("/webhook-endpoints", json=body, headers=merchant.headers)

    error = assert_error(response, 400, "invalid_request_error")["error"]
    assert error["param"] == param
    assert await endpoint_rows(engine, merchant) == []


async def test_plain_http_is_refused_unless_private_urls_are_allowed(
    client: httpx.AsyncClient, database_url: str, merchant: MerchantFixture
) -> None:
    refused = await client.post(
        "/webhook-endpoints", json={"url": "http://93.184.215.14/hooks"}, headers=merchant.headers
    )
    error = assert_error(refused, 400, "invalid_request_error", "url_invalid")["error"]
    assert error["param"] == "url"

    async with local_development_client(database_url) as local:
        for url in ("http://93.184.215.14/hooks", "http://localhost:4000/hooks"):
            accepted = await local.post(
                "/webhook-endpoints", json={"url": url}, headers=merchant.headers
            )
            assert accepted.status_code == 201, accepted.text
            assert accepted.json()["data"]["url"] == url


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
async def test_private_addresses_are_refused_with_the_guard_on(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine, url: str
) -> None:
    response = await client.post("/webhook-endpoints", json={"url": url}, headers=merchant.headers)

    error = assert_error(response, 400, "invalid_request_error", "url_forbidden")["error"]
    assert error["param"] == "url"
    assert await endpoint_rows(engine, merchant) == []


async def test_a_host_that_does_not_resolve_is_refused(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    response = await client.post(
        "/webhook-endpoints",
        json={"url": "https://no-such-host.invalid/hooks"},  # .invalid never resolves (RFC 6761)
        headers=merchant.headers,
    )
    error = assert_error(response, 400, "invalid_request_error", "url_unresolvable")["error"]
    assert error["param"] == "url"


async def test_patch_changes_the_endpoint_and_disables_and_enables_it(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    endpoint = await create_endpoint(client, merchant, description="old")
    path = f"/webhook-endpoints/{endpoint['id']}"

    changed = await client.patch(
        path,
        json={
            "url": OTHER_PUBLIC_URL,
            "enabledEvents": ["refund.succeeded", "payment.completed", "refund.succeeded"],
            "description": None,
        },
        headers=merchant.headers,
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert data["url"] == OTHER_PUBLIC_URL
    assert data["enabledEvents"] == ["refund.succeeded", "payment.completed"]
    assert data["description"] is None
    assert "secret" not in data
    assert (await client.get(path, headers=merchant.headers)).json()["data"] == data

    disabled = await client.patch(path, json={"disabled": True}, headers=merchant.headers)
    assert disabled.json()["data"]["disabled"] is True
    assert disabled.json()["data"]["disabledReason"] == "merchant"
    assert disabled.json()["data"]["url"] == OTHER_PUBLIC_URL, "untouched fields stay"
    enabled = await client.patch(path, json={"disabled": False}, headers=merchant.headers)
    assert enabled.json()["data"]["disabled"] is False
    assert enabled.json()["data"]["disabledReason"] is None


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        pytest.param({"url": "https://10.0.0.1/hooks"}, "url_forbidden", "url", id="private"),
        pytest.param({"url": "http://93.184.215.14/h"}, "url_invalid", "url", id="plain http"),
        pytest.param({"enabledEvents": ["nope"]}, "parameter_invalid", "enabledEvents", id="type"),
        pytest.param({"disabled": "sometimes"}, "parameter_invalid", "disabled", id="not bool"),
        pytest.param({"secret": "whsec_x"}, "parameter_unknown", "secret", id="secret"),
    ],
)
async def test_an_invalid_patch_is_400_and_changes_nothing(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    body: dict[str, Any],
    code: str,
    param: str,
) -> None:
    endpoint = await create_endpoint(client, merchant)
    endpoint.pop("secret")
    path = f"/webhook-endpoints/{endpoint['id']}"

    response = await client.patch(path, json=body, headers=merchant.headers)

    assert assert_error(response, 400, "invalid_request_error", code)["error"]["param"] == param
    assert (await client.get(path, headers=merchant.headers)).json()["data"] == endpoint


async def test_delete_answers_with_the_endpoint_then_it_is_gone(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    kept = await create_endpoint(client, merchant)
    endpoint = await create_endpoint(client, merchant, url=OTHER_PUBLIC_URL)
    path = f"/webhook-endpoints/{endpoint['id']}"

    deleted = await client.delete(path, headers=merchant.headers)

    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["data"]["id"] == endpoint["id"]
    assert deleted.json()["data"]["url"] == OTHER_PUBLIC_URL
    assert "secret" not in deleted.json()["data"]
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"disabled": True}),
        ("DELETE", "", None),
        ("POST", "/rotate-secret", None),
    ):
        again = await client.request(method, path + suffix, json=body, headers=merchant.headers)
        assert_error(again, 404, "invalid_request_error", "resource_missing")
    listed = await client.get("/webhook-endpoints", headers=merchant.headers)
    assert [item["id"] for item in listed.json()["data"]] == [kept["id"]]


async def test_rotation_returns_a_new_secret_and_both_sign_for_a_day(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    endpoint = await create_endpoint(client, merchant)
    old_secret = endpoint["secret"]

    rotated = await client.post(
        f"/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=merchant.headers
    )

    assert rotated.status_code == 200, rotated.text
    data = rotated.json()["data"]
    new_secret = data["secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    expires = datetime.fromisoformat(data["previousSecretExpiresAt"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(minutes=1)
    shown = await client.get(f"/webhook-endpoints/{endpoint['id']}", headers=merchant.headers)
    assert shown.json()["data"]["previousSecretExpiresAt"] == data["previousSecretExpiresAt"]
    assert new_secret not in shown.text and old_secret not in shown.text

    # What the sender signs with now verifies, per the reference library, under either secret.
    [row] = await endpoint_rows(engine, merchant)
    secrets = live_secrets(
        row["id"],
        row["secret_sealed"],
        row["previous_secret_sealed"],
        row["previous_secret_expires_at"],
        box=SecretBox(WEBHOOK_ENCRYPTION_KEY),
    )
    body = json.dumps({"id": "evt_rotation", "type": "payment.completed"}).encode()
    headers = webhook_headers(secrets, "evt_rotation", int(time.time()), body)
    Webhook(old_secret).verify(body, headers)
    Webhook(new_secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(body, headers)


async def test_a_replayed_rotation_neither_rotates_again_nor_reveals_the_secret(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    endpoint = await create_endpoint(client, merchant)
    path = f"/webhook-endpoints/{endpoint['id']}/rotate-secret"
    headers = {**merchant.headers, "Idempotency-Key": f"rotate-{uuid.uuid4()}"}
    first = await client.post(path, headers=headers)
    [before] = await endpoint_rows(engine, merchant)

    again = await client.post(path, headers=headers)

    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["data"]["secret"] == SHOWN_ONCE_PLACEHOLDER
    assert first.json()["data"]["secret"] not in again.text
    [after] = await endpoint_rows(engine, merchant)
    assert after["secret_sealed"] == before["secret_sealed"]


async def test_the_list_pages_newest_first_with_a_cursor(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    created = [await create_endpoint(client, merchant, description=str(n)) for n in range(3)]

    first = await client.get("/webhook-endpoints", params={"limit": 2}, headers=merchant.headers)
    cursor = first.json()["pagination"]["nextCursor"]
    second = await client.get(
        "/webhook-endpoints", params={"limit": 2, "cursor": cursor}, headers=merchant.headers
    )

    assert first.json()["pagination"]["hasMore"] is True
    assert [item["id"] for item in first.json()["data"]] == [created[2]["id"], created[1]["id"]]
    assert [item["id"] for item in second.json()["data"]] == [created[0]["id"]]
    assert second.json()["pagination"] == {"limit": 2, "hasMore": False, "nextCursor": None}


async def test_another_merchants_endpoint_answers_like_a_missing_one(
    client: httpx.AsyncClient, onboard: OnboardMerchant
) -> None:
    owner, intruder = await onboard(name="Merchant A"), await onboard(name="Merchant B")
    endpoint = await create_endpoint(client, owner)
    endpoint.pop("secret")
    calls = [
        ("GET", "", None),
        ("PATCH", "", {"disabled": True, "url": OTHER_PUBLIC_URL}),
        ("DELETE", "", None),
        ("POST", "/rotate-secret", None),
    ]

    for method, suffix, body in calls:
        responses = [
            await client.request(
                method, f"/webhook-endpoints/{endpoint_id}{suffix}", json=body,
                headers=intruder.headers,
            )
            for endpoint_id in (endpoint["id"], uuid.uuid4(), "not-an-id")
        ]  # fmt: skip
        errors = [assert_error(r, 404, "invalid_request_error")["error"] for r in responses]
        assert len({(e["code"], e.get("param")) for e in errors}) == 1, (method, errors)
        assert owner.id not in responses[0].text

    listed = await client.get("/webhook-endpoints", headers=intruder.headers)
    assert listed.json()["data"] == []
    unchanged = await client.get(f"/webhook-endpoints/{endpoint['id']}", headers=owner.headers)
    assert unchanged.json()["data"] == endpoint


async def test_webhook_endpoints_need_a_merchant_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/webhook-endpoints")
    assert_error(response, 401, "authentication_error")
