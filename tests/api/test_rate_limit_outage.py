"""When PostgreSQL cannot count a keyed request: RATE_LIMIT_FAIL_OPEN serves it (held to its
address's count in memory) or answers 503. Strangers stay limited either way."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from payments_api.app import create_app
from payments_api.state import ApiState
from tests.api.support import (
    MerchantFixture,
    OnboardMerchant,
    api_settings,
    assert_error,
    fresh_rate_limit_window,
    running_client,
)
from tests.worker.outage import DatabaseRelay

STRANGER = ("198.51.100.7", 40000)
MERCHANT_HOST = ("203.0.113.20", 40000)
# Left of the window before a test of a few requests starts: they never straddle two windows.
FEW_REQUESTS_SECONDS = 5.0


def _with_a_broken_limiter(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """The counting statement fails; every other query still works (a partial outage)."""
    state: ApiState = app.state.api

    async def unavailable(*_: Any, **__: Any) -> Any:
        raise ConnectionError("rate limiter down")

    monkeypatch.setattr(state.rate_limiter, "find_key_and_hit", unavailable)
    return app


async def test_failing_open_serves_the_request_counted_by_its_address(
    database_url: str, merchant: MerchantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = api_settings(database_url, rate_limit_per_minute=2, rate_limit_fail_open=True)
    app = _with_a_broken_limiter(create_app(settings), monkeypatch)
    await fresh_rate_limit_window(FEW_REQUESTS_SECONDS)
    async with running_client(app) as client:
        responses = [await client.get("/merchants/me", headers=merchant.headers) for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 429]
    assert [response.headers["x-ratelimit-remaining"] for response in responses] == ["1", "0", "0"]


async def test_failing_closed_answers_503_and_runs_nothing(
    database_url: str, merchant: MerchantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = api_settings(database_url, rate_limit_fail_open=False)
    app = _with_a_broken_limiter(create_app(settings), monkeypatch)
    async with running_client(app) as client:
        refused = await client.post(
            "/payment-methods",
            json={"type": "wallet", "provider": "p"},
            headers=merchant.headers,
        )
        listed = await client.get("/merchants/me", headers=merchant.headers)
        stranger = await client.get("/merchants/me")

    assert_error(refused, 503, "api_error", "service_unavailable")
    assert "x-ratelimit-limit" not in refused.headers
    assert listed.status_code == 503
    assert stranger.status_code == 401  # counted in memory, never waits on PostgreSQL


@pytest.fixture
async def relay(database_url: str) -> AsyncIterator[DatabaseRelay]:
    database_relay = DatabaseRelay(database_url)
    await database_relay.start()
    yield database_relay
    await database_relay.stop()


@pytest.mark.parametrize("fail_open", [True, False], ids=["open", "closed"])
async def test_while_postgresql_is_away_strangers_are_still_limited(
    relay: DatabaseRelay, onboard: OnboardMerchant, fail_open: bool
) -> None:
    merchant = await onboard()
    settings = api_settings(
        relay.database_url, rate_limit_per_minute=2, rate_limit_fail_open=fail_open
    )
    app = create_app(settings)
    await fresh_rate_limit_window(FEW_REQUESTS_SECONDS)
    async with running_client(app, peer=STRANGER) as client:
        await relay.cut()
        strangers = [await client.get("/merchants/me") for _ in range(3)]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=MERCHANT_HOST), base_url=client.base_url
        ) as merchant_client:
            keyed = await merchant_client.get("/merchants/me", headers=merchant.headers)

    assert [response.status_code for response in strangers] == [401, 401, 429]
    if fail_open:
        # Past the edge, authentication needs the database too: while it is away most requests
        # fail anyway, which is why failing closed buys little.
        assert keyed.status_code == 500
        assert keyed.headers["x-ratelimit-remaining"] == "1"  # its address's count
    else:
        assert_error(keyed, 503, "api_error", "service_unavailable")
