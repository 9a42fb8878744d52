"""Fixed-window rate limiting in PostgreSQL: one upsert per request, exact across replicas."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_core.api_keys.repository import ROUTED, ActiveKey
from payments_core.db.driver import driver_connection, fetchrow

WINDOW_SECONDS = 60

_HIT = """
    INSERT INTO rate_limit_counters AS c (bucket, window_start, count)
    VALUES ($1, $2, 1)
    ON CONFLICT (bucket, window_start) DO UPDATE SET count = c.count + 1
    RETURNING c.count
"""
# A key's lookup (the query of api_keys.repository.find_active_key) and, only when the key is
# active, its count, in one round trip: every authenticated request needs both, and an unknown key
# (anyone can invent one) must not cost a write, nor get a bucket of its own. No row: no such key.
# Built from constants only, never from input (ROUTED is one).
_FIND_KEY_AND_HIT = f"""
    WITH found AS (
        SELECT k.id, k.merchant_id, k.mode, {ROUTED}
        FROM api_keys AS k JOIN merchants AS m ON m.id = k.merchant_id AND m.is_active
        WHERE k.key_hash = $3 AND k.revoked_at IS NULL
    ), hit AS (
        INSERT INTO rate_limit_counters AS c (bucket, window_start, count)
        SELECT $1::text, $2::timestamptz, 1 FROM found
        ON CONFLICT (bucket, window_start) DO UPDATE SET count = c.count + 1
        RETURNING c.count
    )
    SELECT hit.count, found.id, found.merchant_id, found.mode, found.routed FROM hit, found
"""  # noqa: S608 - constants only
_PURGE = text("DELETE FROM rate_limit_counters WHERE window_start < :cutoff")


@dataclass(frozen=True, slots=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_at: int  # Unix seconds when the window ends

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Reset": str(self.reset_at),
        }

    def retry_after(self, now: float | None = None) -> int:
        return max(1, self.reset_at - int(now if now is not None else time.time()))


class RateLimiter:
    def __init__(self, engine: AsyncEngine, limit_per_minute: int) -> None:
        # One statement per request needs no BEGIN/COMMIT round trips (measured: 0.56 ms of CPU
        # per hit instead of 0.89 ms through SQLAlchemy), and runs on the driver connection
        # (db/driver.py), in autocommit.
        self._engine = engine
        self._autocommit_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._limit = limit_per_minute

    async def hit(self, bucket: str, now: float | None = None) -> RateLimitState:
        counted = await self._count(_HIT, bucket, now)
        assert counted is not None  # the upsert always returns its row
        limit, _ = counted
        return limit

    async def find_key_and_hit(
        self, bucket: str, key_hash: str, now: float | None = None
    ) -> tuple[RateLimitState, ActiveKey] | None:
        """The active key with this hash and its `hit`, read in one statement; None, and
        nothing counted, when there is none (unknown, revoked, or its merchant deactivated)."""
        counted = await self._count(_FIND_KEY_AND_HIT, bucket, now, key_hash)
        if counted is None:
            return None
        limit, row = counted
        return limit, ActiveKey(row["id"], row["merchant_id"], row["mode"], row["routed"])

    async def _count(
        self, statement: str, bucket: str, now: float | None, *more: object
    ) -> tuple[RateLimitState, asyncpg.Record] | None:
        """Run a statement that counts this hit in its window (count first), with `more`
        parameters after the bucket and the window; None when it returned no row."""
        moment = now if now is not None else time.time()
        window_start = int(moment) - int(moment) % WINDOW_SECONDS
        async with driver_connection(self._engine) as connection:
            row = await fetchrow(
                connection, statement, bucket, datetime.fromtimestamp(window_start, UTC), *more
            )
        if row is None:
            return None
        limit = RateLimitState(self._limit, self._limit - row[0], window_start + WINDOW_SECONDS)
        return limit, row

    async def purge_old_windows(self, now: float | None = None) -> None:
        moment = now if now is not None else time.time()
        cutoff = datetime.fromtimestamp(moment - 2 * WINDOW_SECONDS, UTC)
        async with self._autocommit_engine.connect() as connection:
            await connection.execute(_PURGE, {"cutoff": cutoff})
