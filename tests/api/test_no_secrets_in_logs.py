"""Card numbers, CVCs, API keys and webhook secrets never reach the logs of a real API process,
even at DEBUG."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from payments_devstack.processes import find_free_port
from tests.api.support import (
    ADMIN_TOKEN,
    OPERATOR,
    WEBHOOK_ENCRYPTION_KEY,
    unique_email,
    wait_until_serving,
)
from tests.api.webhook_support import PUBLIC_URL

CARD = "4000000000000002"
BAD_LUHN = "4000000000000003"
CVC = "9876"
CONNECTOR_CREDENTIALS = {
    "secretKey": "sk_test_" + "LogScanStripeKey" * 2,
    "webhookSecret": "whsec_" + "LogScanStripeHook" * 2,
}
CONNECTOR_LIVE_KEY = "sk_live_" + "LogScanLiveKey" * 2


@pytest.mark.slow
def test_secrets_do_not_appear_in_the_api_log(database_url: str, tmp_path: Path) -> None:
    port = find_free_port()
    log_file = tmp_path / "api.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ADMIN_API_TOKEN": ADMIN_TOKEN,
        "WEBHOOK_ENCRYPTION_KEY": WEBHOOK_ENCRYPTION_KEY,
        "ENABLE_SNS_PUBLISHING": "false",
        # The operator's credential shares one bucket with every other test this minute.
        "RATE_LIMIT_PER_MINUTE": "1000000",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "API_PORT": str(port),
        "API_HOST": "127.0.0.1",
    }
    with log_file.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "payments_api"], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until_serving(base)
        merchant = {"name": "Logs", "email": unique_email(), "webhookUrl": PUBLIC_URL}
        onboarded = httpx.post(f"{base}/merchants", json=merchant, headers=OPERATOR)
        api_key = onboarded.json()["data"]["apiKey"]
        headers = {"X-API-Key": api_key}
        webhook_secrets = [onboarded.json()["data"]["webhookSecret"]]
        endpoint = httpx.post(
            f"{base}/webhook-endpoints", json={"url": PUBLIC_URL}, headers=headers
        ).json()["data"]
        rotated = httpx.post(
            f"{base}/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=headers
        ).json()["data"]
        webhook_secrets += [endpoint["secret"], rotated["secret"]]
        for number in (CARD, BAD_LUHN):
            card = {"number": number, "expMonth": 1, "expYear": 2099, "cvc": CVC}
            httpx.post(
                f"{base}/payment-methods", json={"type": "card", "card": card}, headers=headers
            )
        issued = httpx.post(f"{base}/merchants/me/api-keys", headers=headers).json()["data"][
            "apiKey"
        ]
        httpx.get(f"{base}/merchants/me", headers={"X-API-Key": api_key[:-1] + "x"})
        # Secrets where the code would log them (the request path): the redactor masks them.
        for leaked in (CARD, api_key, webhook_secrets[0]):
            httpx.get(f"{base}/payments/by-reference/{leaked}", headers=headers)
        method = httpx.post(
            f"{base}/payment-methods",
            json={
                "type": "card",
                "card": {"number": "4242424242424242", "expMonth": 1, "expYear": 2099, "cvc": CVC},
            },
            headers=headers,
        ).json()["data"]
        payment = httpx.post(
            f"{base}/payments",
            json={"amount": 5000, "currency": "NGN", "paymentMethodId": method["id"]},
            headers={**headers, "X-Correlation-Id": "logs-test-correlation"},
        ).json()["data"]
        connector = httpx.post(
            f"{base}/connectors",
            json={"type": "stripe", "credentials": CONNECTOR_CREDENTIALS},
            headers=headers,
        )
        assert connector.status_code == 201, connector.text
        refused = {"secretKey": CONNECTOR_LIVE_KEY}  # a live key with a test API key: 400
        httpx.post(
            f"{base}/connectors", json={"type": "stripe", "credentials": refused}, headers=headers
        )
    finally:
        process.terminate()
        process.wait(timeout=15)

    logged = log_file.read_text()
    assert '"event": "api.request"' in logged  # requests were logged, so the scan means something
    lines = [json.loads(line) for line in logged.splitlines() if line.strip()]  # uvicorn's too
    masked = [line for line in lines if "by-reference/[REDACTED]" in str(line.get("path"))]
    assert len(masked) == 3
    about_payment = [line for line in lines if line.get("payment_id") == payment["id"]]
    assert {line["event"] for line in about_payment} == {"payment.status_changed", "api.request"}
    assert {line["correlation_id"] for line in about_payment} == {"logs-test-correlation"}
    connector_secrets = (*CONNECTOR_CREDENTIALS.values(), CONNECTOR_LIVE_KEY)
    for secret in (
        CARD,
        BAD_LUHN,
        CVC,
        api_key,
        issued,
        api_key[:-1] + "x",
        *webhook_secrets,
        *connector_secrets,
    ):
        assert secret not in logged
        assert secret.removeprefix("whsec_") not in logged
