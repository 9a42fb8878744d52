"""After a full run of the real stack, no card number, CVC, API key or webhook secret is anywhere
in clear: not in any text or JSON column of any table, not in the stack's files, not in any
service's log output.

The run: a fresh merchant (with a webhook URL), payments with a succeeding, a declined and a
capture-fails card, a refund, a webhook endpoint and a secret rotation, an API key issued, used
and revoked, a Stripe connector (localstripe) and a payment through it. Key revocation and
rotation are tested in depth in tests/api/test_auth.py; here the revoked key is only checked to
be refused by the real process too.
"""

import asyncio
import base64
import re
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.stack.support import DevStack, retire_demo_stripe_connectors, running_devstack

ADMIN_TOKEN = "stack-admin-token-" + uuid.uuid4().hex
EMAIL = f"secrets-{uuid.uuid4().hex}@example.test"
# Each card with a CVC of its own, so a CVC found can be traced to its card.
CARDS = {
    "4242424242424242": ("7319", "completed"),
    "4000000000000002": ("8426", "failed"),
    "4000000000000259": ("9537", "failed"),
}
# Paid through a merchant's Stripe connector (localstripe, STRIPE_FAKE=1).
# (Stripe, and localstripe, take three-digit CVCs for this brand.)
STRIPE_CARD = ("5555555555554444", ("624", "completed"))
FINAL = {"completed", "failed", "cancelled", "refunded", "partially_refunded"}
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea")


def wait_for(api: httpx.Client, path: str, headers: dict[str, str], done: set[str]) -> Any:
    deadline = time.monotonic() + 60
    while True:
        data = api.get(path, headers=headers).json()["data"]
        if data["status"] in done:
            return data
        assert time.monotonic() < deadline, f"{path} stayed {data['status']}"
        time.sleep(0.3)


def run_payments(stack: DevStack) -> dict[str, list[str]]:
    """Everything secret the run handled, by kind."""
    receiver = f"http://127.0.0.1:{stack.ports['WEBHOOK_RECEIVER_PORT']}/webhooks"
    with httpx.Client(base_url=stack.api_url, timeout=10) as api:
        onboarded = api.post(
            "/merchants",
            json={
                "name": "Secrets",
                "email": EMAIL,
                "webhookUrl": receiver,
            },
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert onboarded.status_code == 201, onboarded.text
        api_key = onboarded.json()["data"]["apiKey"]
        secrets = [onboarded.json()["data"]["webhookSecret"]]
        headers = {"X-API-Key": api_key}

        endpoint = api.post("/webhook-endpoints", json={"url": receiver}, headers=headers)
        assert endpoint.status_code == 201, endpoint.text
        secrets.append(endpoint.json()["data"]["secret"])
        rotated = api.post(
            f"/webhook-endpoints/{endpoint.json()['data']['id']}/rotate-secret", headers=headers
        )
        assert rotated.status_code == 200, rotated.text
        secrets.append(rotated.json()["data"]["secret"])

        completed = None
        for number, (cvc, outcome) in CARDS.items():
            card = {"number": number, "expMonth": 12, "expYear": 2035, "cvc": cvc}
            method = api.post(
                "/payment-methods", json={"type": "card", "card": card}, headers=headers
            )
            assert method.status_code == 201, method.text
            payment = api.post(
                "/payments",
                json={"amount": 40_000, "paymentMethodId": method.json()["data"]["id"]},
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert payment.status_code == 201, payment.text
            final = wait_for(api, f"/payments/{payment.json()['data']['id']}", headers, FINAL)
            assert final["status"] == outcome, final
            if outcome == "completed":
                completed = final["id"]
        assert completed is not None
        refund = api.post(
            f"/payments/{completed}/refunds", json={"amount": 15_000}, headers=headers
        )
        assert refund.status_code == 201, refund.text
        wait_for(api, f"/refunds/{refund.json()['data']['id']}", headers, {"succeeded", "failed"})

        issued = api.post("/merchants/me/api-keys", headers=headers).json()["data"]
        assert api.get("/merchants/me", headers={"X-API-Key": issued["apiKey"]}).status_code == 200
        revoked = api.delete(f"/merchants/me/api-keys/{issued['id']}", headers=headers)
        assert revoked.status_code == 200, revoked.text
        assert api.get("/merchants/me", headers={"X-API-Key": issued["apiKey"]}).status_code == 401
        assert api.get("/merchants/me", headers=headers).status_code == 200

        connector_credentials = {
            "secretKey": "sk_test_" + "AtRestStripeKey" * 2,
            "webhookSecret": "whsec_" + "AtRestStripeHook" * 2,
        }
        connector = api.post(
            "/connectors",
            json={"type": "stripe", "credentials": connector_credentials},
            headers=headers,
        )
        assert connector.status_code == 201, connector.text
        # A card the connector vaults, and a payment through it: the worker opens the
        # credentials, the card's number goes to (local) Stripe.
        number, (cvc, _) = STRIPE_CARD
        card = {"number": number, "expMonth": 12, "expYear": 2035, "cvc": cvc}
        method = api.post("/payment-methods", json={"type": "card", "card": card}, headers=headers)
        assert method.status_code == 201, method.text
        payment = api.post(
            "/payments",
            json={"amount": 40_000, "paymentMethodId": method.json()["data"]["id"]},
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert payment.status_code == 201, payment.text
        final = wait_for(api, f"/payments/{payment.json()['data']['id']}", headers, FINAL)
        assert (final["status"], final["connector"]["type"]) == ("completed", "stripe"), final[
            "failureReason"
        ]
    return {
        "card number": [*CARDS, STRIPE_CARD[0]],
        "API key": [api_key, issued["apiKey"]],
        "webhook secret": secrets + [secret.removeprefix("whsec_") for secret in secrets],
        "connector credential": [
            *connector_credentials.values(),
            connector_credentials["webhookSecret"].removeprefix("whsec_"),
        ],
    }


async def _dump(database_url: str) -> list[str]:
    connection = await asyncpg.connect(database_url)
    try:
        # One query per column, each built by PostgreSQL itself with quoted identifiers.
        queries = await connection.fetch(
            "SELECT c.table_schema || '.' || c.table_name || '.' || c.column_name AS name, "
            "format('SELECT %I::text FROM %I.%I WHERE %I IS NOT NULL', c.column_name, "
            "c.table_schema, c.table_name, c.column_name) AS query "
            "FROM information_schema.columns c JOIN information_schema.tables t "
            "USING (table_schema, table_name) "
            "WHERE t.table_type = 'BASE TABLE' AND c.data_type = ANY($1::text[]) "
            "AND c.table_schema NOT IN ('pg_catalog', 'information_schema')",
            list(TEXT_TYPES),
        )
        assert len({row["name"].rsplit(".", 1)[0] for row in queries}) >= 10, queries
        chunks = []
        for row in queries:
            chunks += [
                f"{row['name']}: {value}" for (value,) in await connection.fetch(row["query"])
            ]
        return chunks
    finally:
        await connection.close()


def dump_database(database_url: str) -> str:
    """Every text, JSON and bytea column of every table, as text."""
    return "\n".join(asyncio.run(_dump(database_url)))


def stack_files(directory: Path) -> str:
    """The stack's own files (Temporal's history database among them), but not demo.json, which
    holds the demo merchant's key for the developer by design."""
    return "\n".join(
        path.read_bytes().decode("latin-1")
        for path in (directory / ".data").rglob("*")
        if path.is_file() and path.name != "demo.json"
    )


def found(haystack: str, secrets: dict[str, list[str]]) -> list[str]:
    hits = [
        f"{kind} {value[:10]}…"
        for kind, values in secrets.items()
        for value in values
        if value in haystack
    ]
    for number, (cvc, _) in [*CARDS.items(), STRIPE_CARD]:
        # A bare 4-digit CVC is in any timestamp; one stored would be a quoted value or a key.
        if re.search(rf"[\"']{cvc}[\"']|cvc\W{{0,4}}{cvc}", haystack, re.IGNORECASE):
            hits.append(f"CVC of {number[-4:]}")
    return hits


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_no_secret_is_stored_or_logged_in_clear(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("devstack-secrets")
    env = {
        "ADMIN_API_TOKEN": ADMIN_TOKEN,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
        "STRIPE_FAKE": "1",
    }
    try:
        with running_devstack(directory, database_url, env) as stack:
            secrets = run_payments(stack)
            time.sleep(2)  # the last webhook deliveries and their log lines
            database = dump_database(database_url)
            files = stack_files(directory)
    finally:
        retire_demo_stripe_connectors(directory, database_url)
    logs = "\n".join(stack.output)
    # Controls: the scans see the run (the merchant's row; the demo key make up prints on purpose).
    assert EMAIL in database and "api.request" in logs
    assert found(logs, {"API key": [stack.demo["api_key"]]}) != []
    assert base64.b64decode(secrets["webhook secret"][-1])  # the bodies searched are the keys
    assert found(database, secrets) == [], "in the database"
    assert found(files, secrets) == [], "in the stack's files"
    assert found(logs, secrets) == [], "in the logs"
