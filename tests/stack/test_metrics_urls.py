"""As a new user would: `make up`, one payment, then every metrics URL `make up` printed serves
the platform's metrics, and every service's log lines say what happened to that payment."""

import json
import time

import httpx
import pytest

from tests.stack.conftest import PaidStack
from tests.stack.support import DevStack

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


# Gauges only one process sets: elsewhere they would read a false 0.
ONLY_IN = {
    "payments_outbox_unpublished_rows": "api",
    "payments_outbox_oldest_unpublished_age_seconds": "api",
    "payments_http_requests_in_flight": "api",
    "payments_webhook_attempts_in_flight": "webhooks",
}


def missing_metrics(urls: dict[str, str]) -> dict[str, list[str]]:
    missing = {}
    for service, wanted in EXPECTED.items():
        text = httpx.get(urls[service], timeout=5).text
        absent = [name for name in wanted if name not in text]
        if absent:
            missing[service] = absent
    return missing


@pytest.mark.slow
def test_each_metrics_url_serves_the_platform_metrics(paid_stack: PaidStack) -> None:
    # The webhook and the last transitions land shortly after the status: poll the scrapes.
    deadline = time.monotonic() + 30
    while missing := missing_metrics(paid_stack.stack.metrics_urls):
        assert time.monotonic() < deadline, f"not exported: {missing}"
        time.sleep(0.5)
    for service, url in paid_stack.stack.metrics_urls.items():
        text = httpx.get(url, timeout=5).text
        exported = {name for name, owner in ONLY_IN.items() if f"\n{name} " in text}
        assert exported == {name for name, owner in ONLY_IN.items() if owner == service}, service


def story(stack: DevStack, payment_id: str) -> dict[str, dict[str, set[str]]]:
    """Per service: each event it logged with the payment's id, and the statuses it named.
    Every line of every service is parsed as JSON on the way (json.loads raises otherwise)."""
    found: dict[str, dict[str, set[str]]] = {}
    for service in ("api", "worker", "processor", "webhooks"):
        events = found.setdefault(service, {})
        for line in map(json.loads, stack.lines_from(service)):
            if line.get("payment_id") == payment_id:
                events.setdefault(str(line["event"]), set()).add(str(line.get("status")))
    return found


@pytest.mark.slow
def test_every_service_logs_json_lines_that_name_the_payment(paid_stack: PaidStack) -> None:
    stack, payment_id = paid_stack.stack, paid_stack.payment_id
    assert all(stack.lines_from(service) for service in ("api", "worker", "processor", "webhooks"))
    expected = {
        "api": {"payment.status_changed": {"pending"}, "api.request": {"201"}},
        "worker": {"payment.status_changed": {"processing", "completed"}},
        "processor": {"processor.workflow_started": {"None"}},
    }
    # Lines reach the test through make up's own output pump: on a loaded CI machine they can
    # trail the payment's completion, so wait for them (what they must say does not change).
    deadline = time.monotonic() + 30
    while True:
        told = story(stack, payment_id)
        missing = {
            service: {event: statuses for event, statuses in events.items()
                      if not statuses <= told[service].get(event, set())}
            for service, events in expected.items()
        }  # fmt: skip
        if not any(missing.values()):
            break
        assert time.monotonic() < deadline, f"missing {missing}; logged {told}"
        time.sleep(0.5)
    activity_lines = [
        line
        for line in map(json.loads, stack.lines_from("worker"))
        if line.get("payment_id") == payment_id and line["event"] == "payment.status_changed"
    ]
    assert {line["workflow_id"] for line in activity_lines} == {f"payment-{payment_id}"}
