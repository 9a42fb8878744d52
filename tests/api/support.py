"""Helpers shared by the API tests (imported by conftest and by test modules)."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from payments_core.settings import ApiSettings

ADMIN_TOKEN = "test-admin-token-0123456789"
# A fixed test key (32 bytes of 0x01, base64): encrypts webhook secrets at rest.
WEBHOOK_ENCRYPTION_KEY = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TEST_CARD = {"number": "4242424242424242", "expMonth": 12, "expYear": 2035, "cvc": "123"}


def unique_email() -> str:
    return f"m-{uuid.uuid4().hex[:12]}@example.test"


def api_settings(database_url: str, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "admin_api_token": ADMIN_TOKEN,
        "webhook_encryption_key": WEBHOOK_ENCRYPTION_KEY,
        "rate_limit_per_minute": 100_000,
        "enable_sns_publishing": False,
        "log_format": "console",
    }
    values.update(overrides)
    return ApiSettings(**values)


# httpx's own default: the address the app sees as its peer unless a test names another.
LOCAL_PEER = ("127.0.0.1", 123)


@asynccontextmanager
async def running_client(
    app: FastAPI, peer: tuple[str, int] = LOCAL_PEER
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (relay, clean-up) running, and a client speaking ASGI to it
    from `peer` (the TCP peer: a client, or a proxy in front of it)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=peer)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver/api/v1"
        ) as client:
            yield client


@dataclass
class MerchantFixture:
    id: str
    email: str
    api_key: str
    body: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


OnboardMerchant = Callable[..., Awaitable[MerchantFixture]]


def assert_error(
    response: httpx.Response, status: int, error_type: str, code: str | None = None
) -> dict[str, Any]:
    """The contract's error object, whole, with the expected status, type and code."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["statusCode"] == status
    assert body["error"]["type"] == error_type
    if code is not None:
        assert body["error"]["code"] == code
    assert body["message"] == body["error"]["message"] and body["message"]
    assert body["path"] == response.request.url.path
    assert body["method"] == response.request.method
    assert body["timestamp"].endswith("Z")
    assert body["correlationId"] == response.headers["x-correlation-id"]
    return body


def wait_until_serving(base_url: str, timeout: float = 90.0) -> None:
    """Block until an API process started by a test answers its health check (generous: two
    processes starting at once on a loaded 2-core machine have taken over 30 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"the API at {base_url} did not start")


async def fresh_rate_limit_window(needed_seconds: float = 15.0) -> None:
    """Wait for a new fixed window when the current one ends too soon: a test that counts
    requests against the limit must not see the count reset halfway through."""
    from payments_core.rate_limit.service import WINDOW_SECONDS

    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < needed_seconds:
        await asyncio.sleep(left + 0.1)
