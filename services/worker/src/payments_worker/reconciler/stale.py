"""What is not final, and for how long: the reconciler's queries and the gauges SREs watch.

Age is the time since a row last changed (`updated_at`): a payment moving through its steps is
young however old it is. Paging is by (updated_at, id), oldest first, resuming after the last row
seen, so rows the reconciler leaves alone (a workflow still running) cannot hide the ones behind.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import Float, TextClause, case, cast, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments_core.payments.models import UNFINISHED_PAYMENTS, Payment
from payments_core.payments.status import UNFINISHED
from payments_core.refunds.models import PENDING_REFUNDS, Refund
from payments_core.refunds.status import RefundStatus
from payments_core.telemetry.metrics import register_once


@dataclass(frozen=True)
class Unfinished:
    """One kind of row the reconciler watches: its table, its statuses that are not final, and
    the same as a literal predicate, which the partial index (ix_payments_unfinished_updated,
    ix_refunds_pending_updated) matches even under a prepared statement's generic plan."""

    kind: str
    model: type[Payment] | type[Refund]
    statuses: tuple[str, ...]
    where: TextClause
    # Rows holding a decision their running workflow has to carry out: a capture or cancel of
    # a hold, or a customer's approval. The workflow learns of it by a message (an update, a
    # signal); if that was lost, the reconciler wakes it.
    decided: TextClause


PAYMENTS = Unfinished(
    "payment",
    Payment,
    tuple(status.value for status in UNFINISHED),
    text(f"payments.{UNFINISHED_PAYMENTS}"),
    text(
        "(payments.status = 'authorized' AND payments.hold_decision IS NOT NULL)"
        " OR (payments.status = 'processing' AND payments.processing_step = 'authenticating')"
    ),
)
REFUNDS = Unfinished(
    "refund",
    Refund,
    (RefundStatus.PENDING.value,),
    text(f"refunds.{PENDING_REFUNDS}"),
    text("false"),
)
# (upper bound in seconds, label), youngest first; the last bucket has no bound.
AGE_BUCKETS = ((60, "under_1m"), (300, "1m_to_5m"), (900, "5m_to_15m"), (3600, "15m_to_1h"))
OLDEST_BUCKET = "over_1h"

NON_TERMINAL = Gauge(
    "payments_non_terminal",
    "Payments (kind=payment) and refunds (kind=refund) not yet final, by status and by age since "
    "their last change; refreshed by every worker's reconciler (the same value: use max).",
    ["kind", "status", "age"],
    registry=None,
)
NON_TERMINAL_OLDEST_AGE = Gauge(
    "payments_non_terminal_oldest_age_seconds",
    "Seconds since the least recently changed non-final payment or refund changed, 0 when none "
    "(use max).",
    ["kind", "status"],
    registry=None,
)
register_once(NON_TERMINAL, NON_TERMINAL_OLDEST_AGE)

Cursor = tuple[datetime, uuid.UUID]


@dataclass(frozen=True)
class Stale:
    updated_at: datetime
    id: uuid.UUID
    status: str
    decided: bool = False

    @property
    def cursor(self) -> Cursor:
        return self.updated_at, self.id


async def stale_payments(
    session: AsyncSession, cutoff: datetime, after: Cursor | None, limit: int
) -> list[Stale]:
    """Payments not final, unchanged since before `cutoff`, oldest first."""
    return await _stale(session, PAYMENTS, cutoff, after, limit)


async def stale_refunds(
    session: AsyncSession, cutoff: datetime, after: Cursor | None, limit: int
) -> list[Stale]:
    return await _stale(session, REFUNDS, cutoff, after, limit)


async def _stale(
    session: AsyncSession,
    rows: Unfinished,
    cutoff: datetime,
    after: Cursor | None,
    limit: int,
) -> list[Stale]:
    model = rows.model
    updated_at, row_id, status = col(model.updated_at), col(model.id), col(model.status)
    statement = (
        select(updated_at, row_id, status, rows.decided)
        .where(rows.where, updated_at < cutoff)
        .order_by(updated_at, row_id)
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(tuple_(updated_at, row_id) > after)
    return [Stale(*row) for row in (await session.execute(statement)).all()]


async def refresh_gauges(session: AsyncSession) -> None:
    """Count what is not final by kind, status and age bucket; every known series is set, to 0
    when empty, so a bucket that empties does not keep its last value."""
    for rows in (PAYMENTS, REFUNDS):
        counts: dict[tuple[str, str], int] = {}
        oldest: dict[str, float] = {}
        for status, bucket, count, age in await _by_age(session, rows):
            counts[status, bucket] = int(count)
            oldest[status] = max(oldest.get(status, 0.0), float(age))
        for status in rows.statuses:
            for bucket in (*(label for _, label in AGE_BUCKETS), OLDEST_BUCKET):
                count = counts.get((status, bucket), 0)
                NON_TERMINAL.labels(rows.kind, status, bucket).set(count)
            NON_TERMINAL_OLDEST_AGE.labels(rows.kind, status).set(oldest.get(status, 0.0))


async def _by_age(session: AsyncSession, rows: Unfinished) -> list[Any]:
    model = rows.model
    age = cast(func.extract("epoch", func.now() - col(model.updated_at)), Float)
    bucket = case(*((age < bound, label) for bound, label in AGE_BUCKETS), else_=OLDEST_BUCKET)
    statement = (
        select(col(model.status), bucket, func.count(), func.max(age))
        .where(rows.where)
        .group_by(col(model.status), bucket)
    )
    return list((await session.execute(statement)).all())
