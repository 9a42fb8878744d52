"""What every response carries: envelopes for unknown routes, headers, body limit, 500s."""

from typing import Any

import httpx
from fastapi import FastAPI

from payments_api.app import create_app
from tests.api.support import MerchantFixture, api_settings, assert_error, running_client

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


async def test_unknown_route_answers_404_in_the_error_envelope(client: httpx.AsyncClient) -> None:
    body = assert_error(await client.get("/does-not-exist"), 404, "invalid_request_error")
    assert "no route" in body["message"]


async def test_wrong_method_answers_405_in_the_error_envelope(client: httpx.AsyncClient) -> None:
    assert_error(await client.put("/payments"), 405, "invalid_request_error", "method_not_allowed")


async def test_security_and_rate_limit_headers_on_success_and_error(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    for response in (
        await client.get("/merchants/me", headers=merchant.headers),
        await client.get("/payments/nope", headers=merchant.headers),
        await client.get("/unknown"),
    ):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert "max-age" in response.headers["strict-transport-security"]
        assert response.headers["referrer-policy"]
        for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
            assert response.headers[name].isdigit()


async def test_correlation_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/unknown", headers={"X-Correlation-ID": "trace-abc-123"})
    assert echoed.headers["x-correlation-id"] == "trace-abc-123"
    assert echoed.json()["correlationId"] == "trace-abc-123"

    generated = await client.get("/health")
    assert len(generated.headers["x-correlation-id"]) == 36
    hostile = await client.get("/health", headers={"X-Correlation-ID": "x\r\ninjected: 1"})
    assert hostile.headers["x-correlation-id"] != "x\r\ninjected: 1"


async def test_body_over_64_kib_is_413_and_changes_nothing(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    big = {"type": "wallet", "metadata": {"k": "v" * 400}, "provider": "p" * 70_000}
    declared = await client.post("/payment-methods", json=big, headers=merchant.headers)
    assert_error(declared, 413, "invalid_request_error", "payload_too_large")

    async def chunks() -> Any:  # no Content-Length: the limit is enforced while reading
        for _ in range(20):
            yield b" " * 4096

    streamed = await client.post(
        "/payment-methods",
        content=chunks(),
        headers={**merchant.headers, "Content-Type": "application/json"},
    )
    assert_error(streamed, 413, "invalid_request_error", "payload_too_large")
    listed = await client.get("/payment-methods", headers=merchant.headers)
    assert listed.json()["data"] == []


async def test_unexpected_error_is_a_500_envelope_without_internals(database_url: str) -> None:
    app: FastAPI = create_app(api_settings(database_url))

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("SELECT secret FROM internals")

    async with running_client(app) as api_client:
        response = await api_client.get("/boom")
    body = assert_error(response, 500, "api_error", "internal_error")
    assert "SELECT" not in response.text and "Traceback" not in response.text
    assert body["message"] == "an internal error occurred"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_cors_allows_only_configured_origins(database_url: str) -> None:
    app = create_app(api_settings(database_url, cors_origins=("https://shop.example",)))
    async with running_client(app) as api_client:
        allowed = await api_client.options(
            "/payments",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        )
        refused = await api_client.options(
            "/payments",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-origin" not in refused.headers


async def test_no_cors_headers_without_configured_origins(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_health_docs_and_openapi(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json()["statusCode"] == 200 and health.json()["data"]["status"] == "ok"
    ready = await client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["data"]["checks"]["database"] == "ok"
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()

    document = (await client.get("/openapi.json")).json()
    assert (await client.get("/docs-json")).json() == document
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    expected = {
        "/api/v1/merchants", "/api/v1/merchants/me", "/api/v1/merchants/me/api-keys",
        "/api/v1/merchants/me/api-keys/{key_id}", "/api/v1/payment-methods",
        "/api/v1/payment-methods/{method_id}", "/api/v1/payments",
        "/api/v1/payments/{payment_id}", "/api/v1/payments/reference/{reference}",
        "/api/v1/webhook-endpoints", "/api/v1/webhook-endpoints/{endpoint_id}",
        "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret", "/api/v1/events",
        "/api/v1/events/{event_id}", "/api/v1/events/{event_id}/redeliver",
        "/api/v1/payments/{payment_id}/capture", "/api/v1/sandbox/challenges/{token}",
        "/api/v1/connectors/{connector_id}/webhooks",
    }  # fmt: skip
    assert expected <= set(document["paths"])
    for path, method, operation in operations:
        if path.startswith("/api/v1/health"):
            continue
        declared = set(operation["responses"])
        assert {"400", "401", "404", "429", "500"} <= declared, (method, path)
        # The challenge page's form is posted by a customer's browser: its single-use token
        # makes it idempotent, no key could be sent (nor reused: no 422). The processor's
        # notices are deduplicated by the processor's event id, and it sends no key either.
        keyless = ("/api/v1/sandbox/challenges/", "/api/v1/connectors/{connector_id}/webhooks")
        if method == "post" and not path.startswith(keyless):
            assert {"409", "422", "413"} <= declared, (method, path)
            assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    schemes = document["components"]["securitySchemes"]
    assert any(s.get("name") == "X-API-Key" for s in schemes.values())


async def test_405_lists_every_method_the_path_serves(client: httpx.AsyncClient) -> None:
    response = await client.request("OPTIONS", "/payment-methods")
    assert_error(response, 405, "invalid_request_error", "method_not_allowed")
    assert {"GET", "POST"} <= set(response.headers["allow"].replace(" ", "").split(","))
