"""Requests without a valid credential are counted per client address, in memory.

A stranger must not get a fresh bucket (and cost a database write) by inventing a key.
"""

import secrets
import string
import time
import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_api.app import create_app
from tests.api.support import (
    OnboardMerchant,
    api_settings,
    assert_error,
    fresh_rate_limit_window,
    running_client,
)

STRANGER = ("198.51.100.7", 40000)
FLOOD = 2_000
LIMIT = 60
# Left of the window before a test of a few requests starts: they never straddle two windows.
FEW_REQUESTS_SECONDS = 5.0


def random_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "sk_test_" + "".join(secrets.choice(alphabet) for _ in range(40))


async def _counter_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT count(*) FROM rate_limit_counters"))
        return int(rows.scalar_one())


async def test_random_keys_from_one_address_are_limited_without_a_row_each(
    database_url: str, engine: AsyncEngine
) -> None:
    app = create_app(api_settings(database_url, rate_limit_per_minute=LIMIT))
    rows_before = await _counter_rows(engine)
    await fresh_rate_limit_window()
    began = time.perf_counter()
    async with running_client(app, peer=STRANGER) as client:
        responses = [
            await client.get("/merchants/me", headers={"X-API-Key": random_key()})
            for _ in range(FLOOD)
        ]
    took = time.perf_counter() - began
    grown = await _counter_rows(engine) - rows_before

    statuses = [response.status_code for response in responses]
    limited = statuses.count(429)
    measured = f"{limited} of {FLOOD} answered 429, {grown} rows grown, {took:.1f} s"
    assert statuses[:LIMIT] == [401] * LIMIT
    assert statuses[LIMIT] == 429, measured
    # The run takes well under a minute, so at most one new window lets LIMIT more through.
    assert limited >= FLOOD - 2 * LIMIT and set(statuses) == {401, 429}, measured
    assert_error(responses[LIMIT], 429, "rate_limit_error", "rate_limit_exceeded")
    assert grown <= 5, measured


def _statuses(responses: list[httpx.Response]) -> list[int]:
    return [response.status_code for response in responses]


async def test_a_valid_key_and_the_operator_are_served_from_a_limited_address(
    database_url: str, onboard: OnboardMerchant
) -> None:
    merchant = await onboard()
    # Its own operator token: the operator's count is shared with every test's onboarding.
    operator_token = f"operator-{uuid.uuid4()}"
    settings = api_settings(database_url, rate_limit_per_minute=2, admin_api_token=operator_token)
    await fresh_rate_limit_window(FEW_REQUESTS_SECONDS)
    async with running_client(create_app(settings), peer=STRANGER) as client:
        flood = [
            await client.get("/merchants/me", headers={"X-API-Key": random_key()}) for _ in range(3)
        ]
        served = await client.get("/merchants/me", headers=merchant.headers)
        operator = await client.get(
            "/merchants", headers={"Authorization": f"Bearer {operator_token}"}
        )

    assert _statuses(flood) == [401, 401, 429]
    assert served.status_code == 200, served.text
    assert served.headers["x-ratelimit-remaining"] == "1"  # the key's own count
    assert operator.status_code == 200, operator.text
