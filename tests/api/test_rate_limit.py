"""Per-key rate limits held in PostgreSQL, so every API replica shares one count."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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


async def test_the_limit_answers_429_with_retry_after(
    database_url: str, onboard: OnboardMerchant
) -> None:
    limited_merchant, other_merchant = await onboard(), await onboard()
    app = create_app(api_settings(database_url, rate_limit_per_minute=3))
    await fresh_rate_limit_window()
    async with running_client(app) as client:
        headers = limited_merchant.headers
        responses = [await client.get("/merchants/me", headers=headers) for _ in range(4)]
        other_key_still_served = await client.get("/merchants/me", headers=other_merchant.headers)

    assert [r.status_code for r in responses[:3]] == [200, 200, 200]
    # A new key, in a window with time to spare: nothing counted before its first request, so
    # after the nth the limit less n remain, and never fewer than none.
    remaining = [r.headers["x-ratelimit-remaining"] for r in responses]
    assert remaining == ["2", "1", "0", "0"]
    limited = assert_error(responses[3], 429, "rate_limit_error", "rate_limit_exceeded")
    assert limited["statusCode"] == 429
    assert 1 <= int(responses[3].headers["retry-after"]) <= 60
    assert {r.headers["x-ratelimit-limit"] for r in responses} == {"3"}
    # Every key has its own bucket.
    assert other_key_still_served.status_code == 200
    assert other_key_still_served.headers["x-ratelimit-remaining"] == "2"


async def test_health_is_never_limited(database_url: str) -> None:
    app = create_app(api_settings(database_url, rate_limit_per_minute=1))
    async with running_client(app) as client:
        statuses = [(await client.get("/health")).status_code for _ in range(5)]
    assert statuses == [200] * 5


@pytest.fixture
def two_api_processes(database_url: str) -> Iterator[list[str]]:
    """Two real API processes over one database, as two replicas behind a load balancer."""
    ports = [find_free_port(), find_free_port()]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ADMIN_API_TOKEN": ADMIN_TOKEN,
        "WEBHOOK_ENCRYPTION_KEY": WEBHOOK_ENCRYPTION_KEY,
        "RATE_LIMIT_PER_MINUTE": "10",
        "ENABLE_SNS_PUBLISHING": "false",
        "LOG_LEVEL": "WARNING",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "payments_api"],
            env={**env, "API_PORT": str(port), "API_HOST": "127.0.0.1"},
            cwd=Path(__file__).parents[2],
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}/api/v1" for port in ports]
    try:
        for url in urls:
            wait_until_serving(url)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)


@pytest.mark.slow
async def test_the_limit_holds_across_two_api_processes(
    two_api_processes: list[str], onboard: OnboardMerchant
) -> None:
    first, second = two_api_processes
    headers = (await onboard()).headers
    await fresh_rate_limit_window()
    async with httpx.AsyncClient(timeout=10) as client:
        responses = await asyncio.gather(
            *(client.get(f"{url}/merchants/me", headers=headers) for url in [first, second] * 8)
        )
    served = sum(response.status_code == 200 for response in responses)
    limited = sum(response.status_code == 429 for response in responses)
    assert served == 10 and limited == 6
