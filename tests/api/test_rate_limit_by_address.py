"""Requests without a valid credential are counted per client address, in memory.

A stranger must not get a fresh bucket (and cost a database write) by inventing a key, nor by
writing an X-Forwarded-For header: only the proxies FORWARDED_ALLOW_IPS names are believed.
"""

import asyncio
import os
import secrets
import string
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_api.app import create_app
from payments_devstack.processes import find_free_port
from tests.api.support import (
    ADMIN_TOKEN,
    WEBHOOK_ENCRYPTION_KEY,
    OnboardMerchant,
    api_settings,
    assert_error,
    fresh_rate_limit_window,
    running_client,
    wait_until_serving,
)

STRANGER = ("198.51.100.7", 40000)
PROXY = ("10.0.0.2", 51000)
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


async def _anonymous(client: httpx.AsyncClient, *headers: dict[str, str]) -> list[httpx.Response]:
    """One request without credentials per set of headers."""
    return [await client.get("/merchants/me", headers=each) for each in headers]


async def test_two_clients_behind_a_trusted_proxy_get_a_bucket_each(database_url: str) -> None:
    settings = api_settings(database_url, rate_limit_per_minute=2, forwarded_allow_ips="10.0.0.2")
    await fresh_rate_limit_window(FEW_REQUESTS_SECONDS)
    async with running_client(create_app(settings), peer=PROXY) as client:
        first = await _anonymous(client, *[{"X-Forwarded-For": STRANGER[0]}] * 3)
        second = await _anonymous(client, {"X-Forwarded-For": "203.0.113.20"})

    assert _statuses(first) == [401, 401, 429]
    assert _statuses(second) == [401]
    assert second[0].headers["x-ratelimit-remaining"] == "1"


async def test_the_proxy_s_own_entry_counts_not_what_the_client_wrote(database_url: str) -> None:
    """The proxy appends the address it saw; what a client wrote before it is not believed."""
    settings = api_settings(database_url, rate_limit_per_minute=2, forwarded_allow_ips="10.0.0.2")
    await fresh_rate_limit_window(FEW_REQUESTS_SECONDS)
    async with running_client(create_app(settings), peer=PROXY) as client:
        responses = await _anonymous(
            client, *({"X-Forwarded-For": f"192.0.2.{n}, {STRANGER[0]}"} for n in range(3))
        )
    assert _statuses(responses) == [401, 401, 429]


@pytest.mark.parametrize("trusted", ["", "10.0.0.2"], ids=["nobody-trusted", "a-proxy-trusted"])
async def test_a_forwarded_for_from_an_untrusted_peer_gets_no_new_bucket(
    database_url: str, trusted: str
) -> None:
    settings = api_settings(database_url, rate_limit_per_minute=2, forwarded_allow_ips=trusted)
    await fresh_rate_limit_window(FEW_REQUESTS_SECONDS)
    async with running_client(create_app(settings), peer=STRANGER) as client:
        responses = await _anonymous(
            client, *({"X-Forwarded-For": f"192.0.2.{n}"} for n in range(3))
        )
    assert _statuses(responses) == [401, 401, 429]


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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("forwarded_allow_ips", "statuses"),
    [(None, [401, 401, 429]), ("127.0.0.1", [401, 401, 401])],
    ids=["unset", "loopback-trusted"],
)
def test_the_api_process_believes_only_the_proxies_it_is_told_of(
    database_url: str, forwarded_allow_ips: str | None, statuses: list[int]
) -> None:
    """As deployed (python -m payments_api): uvicorn, whose own default trusts loopback, must not
    read X-Forwarded-For before the app does."""
    port = find_free_port()
    env = {
        **{name: value for name, value in os.environ.items() if name != "FORWARDED_ALLOW_IPS"},
        "DATABASE_URL": database_url,
        "ADMIN_API_TOKEN": ADMIN_TOKEN,
        "WEBHOOK_ENCRYPTION_KEY": WEBHOOK_ENCRYPTION_KEY,
        "RATE_LIMIT_PER_MINUTE": "2",
        "ENABLE_SNS_PUBLISHING": "false",
        "LOG_LEVEL": "WARNING",
        "API_PORT": str(port),
        "API_HOST": "127.0.0.1",
    }
    if forwarded_allow_ips is not None:
        env["FORWARDED_ALLOW_IPS"] = forwarded_allow_ips
    process = subprocess.Popen([sys.executable, "-m", "payments_api"], env=env)
    url = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until_serving(url)
        asyncio.run(fresh_rate_limit_window(FEW_REQUESTS_SECONDS))
        responses = [
            httpx.get(f"{url}/merchants/me", headers={"X-Forwarded-For": f"192.0.2.{n}"})
            for n in range(3)
        ]
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert _statuses(responses) == statuses
