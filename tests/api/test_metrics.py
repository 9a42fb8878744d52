"""`GET /metrics`: open to Prometheus, labelled by route template, counting payments."""

from typing import Any

import httpx
from prometheus_client import REGISTRY

from payments_api.app import create_app
from tests.api.support import MerchantFixture, api_settings, running_client

DURATION = "payments_http_request_duration_seconds_count"
TRANSITIONS = "payments_payment_transitions_total"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def scrape(client: httpx.AsyncClient) -> httpx.Response:
    # The client's base URL is /api/v1; the scrape path is at the root, beside it.
    return await client.get("http://testserver/metrics")


async def test_metrics_answer_without_credentials_and_are_never_rate_limited(
    database_url: str,
) -> None:
    app = create_app(api_settings(database_url, rate_limit_per_minute=1))
    async with running_client(app) as client:
        responses = [await scrape(client) for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert responses[0].headers["content-type"].startswith("text/plain")
    assert "payments_http_request_duration_seconds" in responses[0].text
    assert "x-ratelimit-limit" not in responses[0].headers
    assert "/metrics" not in app.openapi()["paths"]


async def test_requests_are_labelled_by_route_template_never_by_raw_path(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    template = "/api/v1/payments/{payment_id}"
    before = sample(DURATION, route=template, method="GET", status="200")
    unmatched_before = sample(DURATION, route="unmatched", method="GET", status="404")
    body = {"amount": 5000, "currency": "USD", "paymentMethodId": card_method["id"]}
    payment = (await client.post("/payments", json=body, headers=merchant.headers)).json()["data"]

    await client.get(f"/payments/{payment['id']}", headers=merchant.headers)
    await client.get("/no-such-thing/42", headers=merchant.headers)
    text = (await scrape(client)).text

    assert sample(DURATION, route=template, method="GET", status="200") == before + 1
    assert sample(DURATION, route="unmatched", method="GET", status="404") == unmatched_before + 1
    assert payment["id"] not in text
    assert "no-such-thing" not in text


async def test_a_created_payment_counts_as_pending_in_its_currency(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    labels = {"status": "pending", "currency": "EUR", "failure_reason": "none"}
    before = sample(TRANSITIONS, **labels)
    body = {"amount": 700, "currency": "EUR", "paymentMethodId": card_method["id"]}

    response = await client.post("/payments", json=body, headers=merchant.headers)

    assert response.status_code == 201, response.text
    assert sample(TRANSITIONS, **labels) == before + 1


async def test_outbox_gauges_show_unpublished_rows(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    # SNS publishing is off in API tests: the payment's event stays in the outbox.
    body = {"amount": 700, "paymentMethodId": card_method["id"]}
    assert (await client.post("/payments", json=body, headers=merchant.headers)).is_success

    await scrape(client)

    assert sample("payments_outbox_unpublished_rows") >= 1
    assert sample("payments_outbox_oldest_unpublished_age_seconds") > 0
