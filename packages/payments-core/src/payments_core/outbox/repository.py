"""SQL for the outbox relay: claim due rows, record publish outcomes, measure the backlog.

Every function runs inside the caller's transaction; the relay owns the transaction so the row
locks taken by `claim_due` last until the outcomes are recorded and committed.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.outbox.models import OutboxMessage

outbox: Table = OutboxMessage.metadata.tables["outbox"]

LAST_ERROR_MAX_CHARS = 1000


@dataclass(frozen=True, slots=True)
class PendingMessage:
    id: str
    event_type: str
    merchant_id: uuid.UUID
    payload: dict[str, Any]
    traceparent: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class FailedPublish:
    id: str
    error: str
    retry_in: timedelta


@dataclass(frozen=True, slots=True)
class Backlog:
    count: int
    oldest_age_seconds: float


async def claim_due(session: AsyncSession, limit: int) -> list[PendingMessage]:
    """Lock up to `limit` unpublished, due rows, oldest first, skipping rows another relay holds."""
    statement = (
        select(
            outbox.c.id,
            outbox.c.event_type,
            outbox.c.merchant_id,
            outbox.c.payload,
            outbox.c.traceparent,
            outbox.c.attempts,
        )
        .where(outbox.c.published_at.is_(None), outbox.c.available_at <= func.now())
        .order_by(outbox.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = (await session.execute(statement)).all()
    return [PendingMessage(*row) for row in rows]


async def mark_published(session: AsyncSession, ids: list[str]) -> None:
    if not ids:
        return
    # clock_timestamp, not now(): now() is when the transaction began, before the publish.
    await session.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids))
        .values(published_at=func.clock_timestamp(), last_error=None)
    )


async def mark_failed(session: AsyncSession, failures: list[FailedPublish]) -> None:
    """Count the attempt, keep the error, and hold the row back until its retry time."""
    if not failures:
        return
    statement = (
        update(outbox)
        .where(outbox.c.id == bindparam("failed_id"))
        .values(
            attempts=outbox.c.attempts + 1,
            last_error=bindparam("error"),
            available_at=func.clock_timestamp() + bindparam("retry_in"),
        )
    )
    connection = await session.connection()
    await connection.execute(
        statement,
        [
            {
                "failed_id": failure.id,
                "error": failure.error[:LAST_ERROR_MAX_CHARS],
                "retry_in": failure.retry_in,
            }
            for failure in failures
        ],
    )


async def backlog(session: AsyncSession) -> Backlog:
    """Count of unpublished rows and the age of the oldest, in seconds (0 when empty)."""
    statement = select(
        func.count(),
        func.coalesce(
            func.extract("epoch", func.clock_timestamp() - func.min(outbox.c.created_at)), 0
        ),
    ).where(outbox.c.published_at.is_(None))
    count, age = (await session.execute(statement)).one()
    return Backlog(count=int(count), oldest_age_seconds=float(age))
