"""The processor's notices (CONTRACT.md §1, "Connectors"): `POST /connectors/{id}/webhooks` is
public, verified with the connector's webhook secret (`Stripe-Signature`, 300 s tolerance), kept
once per event id, and names a payment only when it is the connector's merchant's and routed to
that connector (issue 15, item 5)."""

import json
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_core.gateway.stripe.signature import sign
from tests.api.support import TEST_CARD, MerchantFixture, OnboardMerchant, assert_error

SECRET_KEY = "sk_test_" + "NoticeTestKey" * 2
WEBHOOK_SECRET = "whsec_" + "NoticeTestHook" * 2


async def _connector(
    client: httpx.AsyncClient, merchant: MerchantFixture, webhook_secret: str | None
) -> str:
    credentials = {"secretKey": SECRET_KEY}
    if webhook_secret is not None:
        credentials["webhookSecret"] = webhook_secret
    response = await client.post(
        "/connectors",
        json={"type": "stripe", "credentials": credentials},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    connector_id: str = response.json()["data"]["id"]
    return connector_id


async def _payment(client: httpx.AsyncClient, merchant: MerchantFixture) -> str:
    """A sandbox payment of the merchant, made before its connectors exist (a card registered
    after them would be tokenized at Stripe)."""
    method = await client.post(
        "/payment-methods", json={"type": "card", "card": TEST_CARD}, headers=merchant.headers
    )
    assert method.status_code == 201, method.text
    created = await client.post(
        "/payments",
        json={"amount": 5_000, "paymentMethodId": method.json()["data"]["id"]},
        headers=merchant.headers,
    )
    assert created.status_code == 201, created.text
    payment_id: str = created.json()["data"]["id"]
    return payment_id


async def _route(engine: AsyncEngine, payment_id: str, connector_id: str | None) -> None:
    """Routed to `connector_id`, as routing would have done had the card been at Stripe."""
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE payments SET connector_id = :c WHERE id = :p"),
            {"c": connector_id, "p": payment_id},
        )


def _event(payment_id: str | None, event_id: str | None = None) -> bytes:
    metadata = {"payment_id": payment_id, "idempotency_key": f"{payment_id}-authorize"}
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_123", "object": "payment_intent", "metadata": metadata}},
    }
    return json.dumps(event).encode()


async def _send(
    client: httpx.AsyncClient,
    connector_id: str,
    body: bytes,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
) -> httpx.Response:
    at = int(time.time()) if timestamp is None else timestamp
    header = signature if signature is not None else f"t={at},v1={sign(body, secret, at)}"
    return await client.post(
        f"/connectors/{connector_id}/webhooks",
        content=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
    )


async def _notices(engine: AsyncEngine, connector_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT event_id, type, payment_id::text AS payment_id, processed_at, outcome"
                " FROM connector_notices WHERE connector_id = :c ORDER BY received_at"
            ),
            {"c": connector_id},
        )
        return [dict(row._mapping) for row in rows]


async def test_a_signed_notice_is_kept_once_with_its_payment(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    payment_id = await _payment(client, merchant)
    connector_id = await _connector(client, merchant, WEBHOOK_SECRET)
    await _route(engine, payment_id, connector_id)
    body = _event(payment_id, "evt_once")

    first = await _send(client, connector_id, body)  # no API key: the signature is the credential
    again = await _send(client, connector_id, body)

    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (again.status_code, again.json()) == (200, {"received": True, "duplicate": True})
    assert await _notices(engine, connector_id) == [
        {
            "event_id": "evt_once",
            "type": "payment_intent.succeeded",
            "payment_id": payment_id,
            "processed_at": None,
            "outcome": None,
        }
    ]
    for response in (first, again):
        assert WEBHOOK_SECRET not in response.text


async def test_bad_missing_or_stale_signatures_are_400_and_keep_nothing(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    connector_id = await _connector(client, merchant, WEBHOOK_SECRET)
    body = _event(None)
    now = int(time.time())
    answers = [
        await _send(client, connector_id, body, secret="whsec_" + "wrong" * 6),
        await _send(client, connector_id, body, timestamp=now - 301),
        await _send(client, connector_id, body, timestamp=now + 301),
        await _send(client, connector_id, body, signature=""),
        # Signed, then the body changed on the way.
        await _send(
            client, connector_id, body, signature=f"t={now},v1={sign(b'{}', WEBHOOK_SECRET, now)}"
        ),
        await client.post(f"/connectors/{connector_id}/webhooks", content=body),
    ]

    for response in answers:
        error = assert_error(
            response, 400, "invalid_request_error", "signature_verification_failed"
        )
        assert WEBHOOK_SECRET not in response.text and "payment_intent" not in error["message"]
    assert await _notices(engine, connector_id) == []


async def test_a_connector_without_a_webhook_secret_refuses_notices(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    connector_id = await _connector(client, merchant, None)

    response = await _send(client, connector_id, _event(None))

    assert_error(response, 400, "invalid_request_error", "webhook_secret_not_configured")
    assert await _notices(engine, connector_id) == []


async def test_unknown_malformed_and_removed_connectors_are_404(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    removed = await _connector(client, merchant, WEBHOOK_SECRET)
    deleted = await client.delete(f"/connectors/{removed}", headers=merchant.headers)
    assert deleted.status_code == 200, deleted.text

    for connector_id in (str(uuid.uuid4()), "not-an-id", removed):
        response = await _send(client, connector_id, _event(None))
        assert_error(response, 404, "invalid_request_error", "resource_missing")
    assert await _notices(engine, removed) == []


async def test_a_signed_notice_that_is_not_an_event_is_400(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    connector_id = await _connector(client, merchant, WEBHOOK_SECRET)

    for body in (
        b"not json",
        b"[]",
        b'{"type": "x"}',
        b'{"id": "evt_1"}',
        b'{"id": 5, "type": "x"}',
    ):
        response = await _send(client, connector_id, body)
        assert_error(response, 400, "invalid_request_error", "invalid_notice")
    assert await _notices(engine, connector_id) == []


async def test_a_payment_not_of_this_connector_is_never_named(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    onboard: OnboardMerchant,
    engine: AsyncEngine,
) -> None:
    other = await onboard()
    others_payment = await _payment(client, other)
    own_elsewhere = await _payment(client, merchant)  # the merchant's, routed to the sandbox
    connector_id = await _connector(client, merchant, WEBHOOK_SECRET)
    await _route(engine, others_payment, await _connector(client, other, WEBHOOK_SECRET))

    for event_id, payment_id in (
        ("evt_other_merchant", others_payment),
        ("evt_elsewhere", own_elsewhere),
        ("evt_unknown", str(uuid.uuid4())),
        ("evt_garbage", "not-a-uuid"),
        ("evt_none", None),
    ):
        response = await _send(client, connector_id, _event(payment_id, event_id))
        assert (response.status_code, response.json()["duplicate"]) == (200, False)

    kept = await _notices(engine, connector_id)
    assert [(row["event_id"], row["payment_id"]) for row in kept] == [
        ("evt_other_merchant", None),
        ("evt_elsewhere", None),
        ("evt_unknown", None),
        ("evt_garbage", None),
        ("evt_none", None),
    ]
