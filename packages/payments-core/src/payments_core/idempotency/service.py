"""Stripe-style idempotency keys in PostgreSQL (after Brandur Leach's design).

claim() runs in its own short transaction so a concurrent request with the same key sees the
lock at once; the caller stores the response with store() inside the transaction that commits
the work, so a crash leaves either nothing or both.

A claim older than the takeover window (IDEMPOTENCY_TAKEOVER_SECONDS) is taken to belong to a
dead request, and a retry takes the key over. The API's deadline ends every request well
before that (settings.RequestBoundsSettings), but no timer sees a paused process or a statement
stuck in the network, so each claim is also fenced: it gets a fresh `claim_token`, and store()
and release() act only while the row still carries it. store() runs in the transaction of the
work, under the row's lock, so a request whose claim was taken over can neither commit its work
nor overwrite the response (IdempotencyClaimLost, a 409 `idempotency_key_in_use`).
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

from payments_core.db.bounds import lock_timed_out
from payments_core.errors import IdempotencyClaimLost, IdempotencyKeyInUse, IdempotencyKeyReused
from payments_core.idempotency.models import IdempotencyRecord

# Kept at least this long; a periodic job deletes older records.
RETENTION = timedelta(hours=24)
# Expired records are deleted this many per statement, each well inside the statement timeout.
DELETE_BATCH = 5_000

# What claim() hands a request that may proceed: its token, for store() and release().
ClaimToken = uuid.UUID


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
    *,
    takeover_after: timedelta,
) -> StoredResponse | ClaimToken:
    """Lock the key for this request: a finished response to replay, or this request's token to
    proceed with. Raises IdempotencyKeyReused or IdempotencyKeyInUse."""
    now = datetime.now(UTC)
    token = uuid.uuid4()
    try:
        if await _insert(session, merchant_id, key, method, path, body_fingerprint, now, token):
            return token
        record = await _lock_existing(session, merchant_id, key)
    except Exception as error:
        # Both statements wait while another request writes the row (its claim, or its
        # response with its work): past lock_timeout, the key is in use.
        if lock_timed_out(error):
            raise key_in_use(key) from None
        raise
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
        takeover_after,
    )
    if stored is not None:
        return stored
    # The previous holder is presumed dead: take the key over under a token of our own, which
    # fences out anything it still tries to commit.
    record.locked_at, record.claim_token = now, token
    return token


async def _insert(
    session: AsyncSession,
    merchant_id: uuid.UUID | None,
    key: str,
    method: str,
    path: str,
    body_fingerprint: str,
    now: datetime,
    token: ClaimToken,
) -> bool:
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
            claim_token=token,
            created_at=now,
        )
        .on_conflict_do_nothing(constraint="uq_idempotency_merchant_key")
        .returning(col(IdempotencyRecord.id))
    )
    return inserted.first() is not None


async def _lock_existing(
    session: AsyncSession, merchant_id: uuid.UUID | None, key: str
) -> IdempotencyRecord:
    statement = (
        select(IdempotencyRecord)
        .where(
            col(IdempotencyRecord.merchant_id).is_not_distinct_from(merchant_id),
            col(IdempotencyRecord.key) == key,
        )
        .with_for_update()
    )
    return (await session.execute(statement)).scalar_one()


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
    takeover_after: timedelta,
) -> StoredResponse | None:
    """Replay a finished response, refuse (reused, in use), or None: the holder is presumed dead
    (its claim is older than `takeover_after`), take over."""
    if (existing.method, existing.path, existing.fingerprint) != (method, path, body_fingerprint):
        raise IdempotencyKeyReused(
            f"idempotency key {key} was already used with a different request",
            param="Idempotency-Key",
        )
    if existing.response_status is not None and existing.response_body is not None:
        return StoredResponse(existing.response_status, existing.response_body)
    if existing.locked_at is not None and now - existing.locked_at < takeover_after:
        raise key_in_use(key)
    return None


def key_in_use(key: str) -> IdempotencyKeyInUse:
    return IdempotencyKeyInUse(
        f"a request with idempotency key {key} is still in progress; retry later",
        param="Idempotency-Key",
    )


def claim_lost(key: str) -> IdempotencyClaimLost:
    return IdempotencyClaimLost(
        f"a later request with idempotency key {key} took it over while this one ran past the"
        " takeover window; this one changed nothing: retry to get the outcome",
        param="Idempotency-Key",
    )


async def store(
    session: AsyncSession,
    merchant_id: uuid.UUID | None,
    key: str,
    token: ClaimToken,
    response: StoredResponse,
) -> None:
    """Store the final response, in the transaction of the work, only while `token` holds the
    key; the row stays locked until that transaction ends, so no takeover can come between.
    Raises IdempotencyClaimLost otherwise: the caller must roll its work back."""
    stored = await session.execute(
        update(IdempotencyRecord)
        .where(
            col(IdempotencyRecord.merchant_id).is_not_distinct_from(merchant_id),
            col(IdempotencyRecord.key) == key,
            col(IdempotencyRecord.claim_token) == token,
        )
        .values(response_status=response.status_code, response_body=response.body, locked_at=None)
        .returning(col(IdempotencyRecord.id))
    )
    if stored.first() is None:
        raise claim_lost(key)


async def release(
    session: AsyncSession, merchant_id: uuid.UUID | None, key: str, token: ClaimToken
) -> None:
    """Forget a claim whose request stored nothing (validation error, server error), unless
    another request has taken the key over since."""
    await session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.merchant_id).is_not_distinct_from(merchant_id),
            col(IdempotencyRecord.key) == key,
            col(IdempotencyRecord.claim_token) == token,
            col(IdempotencyRecord.response_status).is_(None),
        )
    )


async def delete_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete records past the retention, DELETE_BATCH per statement: a backlog (a first run, a
    clean-up that was off for a while) never makes one statement outlast statement_timeout."""
    cutoff = (now or datetime.now(UTC)) - RETENTION
    total = 0
    while True:
        expired = (
            select(col(IdempotencyRecord.id))
            .where(col(IdempotencyRecord.created_at) < cutoff)
            .limit(DELETE_BATCH)
        )
        deleted = await session.execute(
            delete(IdempotencyRecord)
            .where(col(IdempotencyRecord.id).in_(expired.scalar_subquery()))
            .returning(col(IdempotencyRecord.id))
        )
        count = len(deleted.all())
        total += count
        if count < DELETE_BATCH:
            return total
