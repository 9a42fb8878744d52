"""The PostgreSQL rate limiter: fixed windows, exact counts, old windows purged."""

import time
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_core.db.engine import create_engine
from payments_core.rate_limit.service import WINDOW_SECONDS, RateLimiter


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    database_engine = create_engine(database_url, pool_size=2)
    yield database_engine
    await database_engine.dispose()


async def _windows(engine: AsyncEngine, bucket: str) -> int:
    async with engine.connect() as connection:
        query = text("SELECT count(*) FROM rate_limit_counters WHERE bucket = :bucket")
        return int((await connection.execute(query, {"bucket": bucket})).scalar_one())


async def test_counts_within_a_window_and_starts_again_in_the_next(engine: AsyncEngine) -> None:
    limiter = RateLimiter(engine, limit_per_minute=2)
    bucket = f"test:{uuid.uuid4()}"
    start = (int(time.time()) // WINDOW_SECONDS) * WINDOW_SECONDS
    states = [await limiter.hit(bucket, now=start + offset) for offset in (1, 2, 3)]
    assert [state.remaining for state in states] == [1, 0, -1]
    assert [state.exceeded for state in states] == [False, False, True]
    assert states[2].headers()["X-RateLimit-Remaining"] == "0"
    assert states[0].reset_at == start + WINDOW_SECONDS
    assert states[2].retry_after(now=start + 3) == WINDOW_SECONDS - 3

    next_window = await limiter.hit(bucket, now=start + WINDOW_SECONDS + 1)
    assert next_window.remaining == 1


async def test_purge_deletes_only_windows_that_can_no_longer_matter(engine: AsyncEngine) -> None:
    limiter = RateLimiter(engine, limit_per_minute=10)
    bucket = f"test:{uuid.uuid4()}"
    now = time.time()
    await limiter.hit(bucket, now=now - 10 * WINDOW_SECONDS)
    await limiter.hit(bucket, now=now)
    assert await _windows(engine, bucket) == 2

    await limiter.purge_old_windows(now=now)
    assert await _windows(engine, bucket) == 1


async def test_an_unknown_key_is_looked_up_but_counts_nothing(engine: AsyncEngine) -> None:
    limiter = RateLimiter(engine, limit_per_minute=10)
    bucket = f"test:{uuid.uuid4()}"
    assert await limiter.find_key_and_hit(bucket, "0" * 64) is None
    assert await _windows(engine, bucket) == 0
