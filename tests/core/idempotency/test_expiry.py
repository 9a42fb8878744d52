"""Idempotency records are kept at least 24 hours and deleted after."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_core.db.engine import create_engine, create_session_factory
from payments_core.db.session import transaction
from payments_core.idempotency import service
from payments_core.idempotency.service import RETENTION, delete_expired


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    database_engine = create_engine(database_url, pool_size=2)
    yield database_engine
    await database_engine.dispose()


async def test_only_records_older_than_the_retention_are_deleted(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    keys = {f"old-{uuid.uuid4()}": now - RETENTION - timedelta(minutes=1)}
    keys[f"young-{uuid.uuid4()}"] = now - RETENTION + timedelta(minutes=1)
    async with engine.begin() as connection:
        for key, created_at in keys.items():
            await connection.execute(
                text(
                    "INSERT INTO idempotency_keys (id, merchant_id, key, method, path,"
                    " fingerprint, created_at) VALUES (gen_random_uuid(), NULL, :key, 'POST',"
                    " '/p', 'f', :created_at)"
                ),
                {"key": key, "created_at": created_at},
            )

    async with transaction(create_session_factory(engine)) as session:
        await delete_expired(session, now=now)

    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT key FROM idempotency_keys WHERE key = ANY(:keys)"), {"keys": list(keys)}
        )
        remaining = {row[0] for row in rows}
    assert remaining == {key for key in keys if key.startswith("young-")}


async def test_a_backlog_is_deleted_in_batches_until_none_is_left(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "DELETE_BATCH", 2)
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO idempotency_keys (id, merchant_id, key, method, path, fingerprint,"
                " created_at) SELECT gen_random_uuid(), NULL, 'backlog-' || gen_random_uuid(),"
                " 'POST', '/p', 'f', :created_at FROM generate_series(1, 5)"
            ),
            {"created_at": now - RETENTION - timedelta(days=1)},
        )

    async with transaction(create_session_factory(engine)) as session:
        deleted = await delete_expired(session, now=now)

    assert deleted >= 5  # and any other test's expired rows
    async with engine.connect() as connection:
        left = await connection.execute(
            text("SELECT count(*) FROM idempotency_keys WHERE key LIKE 'backlog-%'")
        )
        assert left.scalar_one() == 0
