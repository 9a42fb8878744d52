"""As a new user would: `make up`, one payment, then every metrics URL `make up` printed serves
the platform's metrics (issue 6's first check, on the real processes)."""

import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.stack.support import running_devstack

# What each process must export after one completed payment and its webhook.
EXPECTED = {
    "api": (
        "payments_http_request_duration_seconds_bucket",
        'payments_payment_transitions_total{currency="NGN",failure_reason="none",status="pending"}',
        "payments_outbox_unpublished_rows",
        "payments_outbox_oldest_unpublished_age_seconds",
        'payments_outbox_published_total{outcome="published"}',
    ),
    "worker": (
        'payments_payment_transitions_total{currency="NGN",failure_reason="none",status="completed"}',
        "payments_payment_lifecycle_seconds_bucket",
        'payments_gateway_call_duration_seconds_count{gateway="sandbox",operation="capture"',
        "temporal_",
    ),
    "processor": (
        'payments_consumer_messages_total{outcome="handled",queue="payment-processing-queue"}',
        "temporal_",
    ),
    "webhooks": (
        'payments_webhook_attempts_total{outcome="success"}',
        "payments_webhook_attempt_duration_seconds_bucket",
        'payments_consumer_messages_total{outcome="handled",queue="payment-webhook-queue"}',
    ),
}


def scrape(url: str) -> str:
    return httpx.get(url, timeout=5).text


def missing_metrics(urls: dict[str, str]) -> dict[str, list[str]]:
    missing = {}
    for service, wanted in EXPECTED.items():
        text = scrape(urls[service])
        absent = [name for name in wanted if name not in text]
        if absent:
            missing[service] = absent
    return missing


@pytest.mark.slow
def test_each_metrics_url_serves_the_platform_metrics(database_url: str, tmp_path: Path) -> None:
    with running_devstack(tmp_path, database_url) as stack:
        demo = stack.demo
        headers = {"X-API-Key": demo["api_key"], "Idempotency-Key": str(uuid.uuid4())}
        body = {
            "amount": 125_000,
            "currency": "NGN",
            "paymentMethodId": demo["payment_method_id"],
            "reference": f"metrics-{uuid.uuid4()}",
        }
        with httpx.Client(base_url=stack.api_url, timeout=10) as api:
            created = api.post("/payments", json=body, headers=headers)
            assert created.status_code == 201, created.text
            payment_id = created.json()["data"]["id"]
            deadline = time.monotonic() + 60
            while (
                api.get(f"/payments/{payment_id}", headers=headers).json()["data"]["status"]
                != "completed"
            ):
                assert time.monotonic() < deadline, "the payment did not complete"
                time.sleep(0.2)
        # Webhook and last transitions land shortly after the status: poll the scrapes.
        deadline = time.monotonic() + 30
        while missing := missing_metrics(stack.metrics_urls):
            assert time.monotonic() < deadline, f"not exported: {missing}"
            time.sleep(0.5)
