"""Stripe-style idempotency keys in PostgreSQL (after Brandur Leach's design).

claim() runs in its own short transaction so a concurrent request with the same key sees the
lock at once; the caller stores the response with store() inside the transaction that commits
the work, so a crash leaves either nothing or both.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments_core.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from payments_core.idempotency.models import IdempotencyRecord

# A lock older than this belongs to a request that died; a retry may take it over.
LOCK_TIMEOUT = timedelta(seconds=60)
# Kept at least this long; a periodic job deletes older records.
RETENTION = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def fingerprint(body: Any) -> str:
    """Hash of the request body, insensitive to key order and whitespace."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession,
    merchant_id: uuid.UUID | None,
    key: str,
    method: str,
    path: str,
    body_fingerprint: str,
) -> StoredResponse | None:
    """Lock the key for this request; return a finished response to replay, or None to proceed."""
    now = datetime.now(UTC)
    inserted = await session.execute(
        insert(IdempotencyRecord)
        .values(
            id=uuid.uuid4(),
            merchant_id=merchant_id,
            key=key,
            method=method,
            path=path,
            fingerprint=body_fingerprint,
            locked_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(constraint="uq_idempotency_merchant_key")
        .returning(col(IdempotencyRecord.id))
    )
    if inserted.first() is not None:
        return None
    record = (
        await session.execute(
            select(IdempotencyRecord)
            .where(
                col(IdempotencyRecord.merchant_id).is_not_distinct_from(merchant_id),
                col(IdempotencyRecord.key) == key,
            )
            .with_for_update()
        )
    ).scalar_one()
    stored = decide_on_existing(
        ExistingClaim(
            record.method,
            record.path,
            record.fingerprint,
            record.locked_at,
            record.response_status,
            record.response_body,
        ),
        key,
        method,
        path,
        body_fingerprint,
        now,
    )
    if stored is None:
        record.locked_at = now  # the previous holder died: take the key over
    return stored


@dataclass(frozen=True, slots=True)
class ExistingClaim:
    """A key's row as found by a request that could not insert it."""

    method: str
    path: str
    fingerprint: str
    locked_at: datetime | None
    response_status: int | None
    response_body: dict[str, Any] | None


def decide_on_existing(
    existing: ExistingClaim,
    key: str,
    method: str,
    path: str,
    body_fingerprint: str,
    now: datetime,
) -> StoredResponse | None:
    """Replay a finished response, refuse (reused, in use), or None: the holder died, take over."""
    if (existing.method, existing.path, existing.fingerprint) != (method, path, body_fingerprint):
        raise IdempotencyKeyReused(
            f"idempotency key {key} was already used with a different request",
            param="Idempotency-Key",
        )
    if existing.response_status is not None and existing.response_body is not None:
        return StoredResponse(existing.response_status, existing.response_body)
    if existing.locked_at is not None and now - existing.locked_at < LOCK_TIMEOUT:
        raise IdempotencyKeyInUse(
            f"a request with idempotency key {key} is still in progress; retry later",
            param="Idempotency-Key",
        )
    return None


async def store(
    session: AsyncSession, merchant_id: uuid.UUID | None, key: str, response: StoredResponse
) -> None:
    await session.execute(
        update(IdempotencyRecord)
        .where(
            col(IdempotencyRecord.merchant_id).is_not_distinct_from(merchant_id),
            col(IdempotencyRecord.key) == key,
        )
        .values(response_status=response.status_code, response_body=response.body, locked_at=None)
    )


async def release(session: AsyncSession, merchant_id: uuid.UUID | None, key: str) -> None:
    """Forget a claim whose request stored nothing (validation error, server error)."""
    await session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.merchant_id).is_not_distinct_from(merchant_id),
            col(IdempotencyRecord.key) == key,
            col(IdempotencyRecord.response_status).is_(None),
        )
    )


async def delete_expired(session: AsyncSession, now: datetime | None = None) -> int:
    cutoff = (now or datetime.now(UTC)) - RETENTION
    deleted = await session.execute(
        delete(IdempotencyRecord)
        .where(col(IdempotencyRecord.created_at) < cutoff)
        .returning(col(IdempotencyRecord.id))
    )
    return len(deleted.all())
