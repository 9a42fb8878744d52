"""SQL for refunds; reads are scoped to the owning merchant."""

import uuid
from datetime import datetime

from sqlalchemy import func, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from payments_core.db.queries import paginate_newest_first
from payments_core.pagination import Page, PageRequest, page_from_rows
from payments_core.refunds.models import Refund
from payments_core.refunds.status import RefundStatus


async def get_owned(
    session: AsyncSession, merchant_id: uuid.UUID, refund_id: uuid.UUID
) -> Refund | None:
    statement = select(Refund).where(
        col(Refund.id) == refund_id, col(Refund.merchant_id) == merchant_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def lock(session: AsyncSession, refund_id: uuid.UUID) -> Refund | None:
    await session.flush()  # see payments.transitions.lock
    statement = (
        select(Refund)
        .where(col(Refund.id) == refund_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def committed_amount(session: AsyncSession, payment_id: uuid.UUID) -> int:
    """What pending and succeeded refunds already take out of the payment."""
    statement = select(func.coalesce(func.sum(Refund.amount), 0)).where(
        col(Refund.payment_id) == payment_id, col(Refund.status) != RefundStatus.FAILED.value
    )
    return int((await session.execute(statement)).scalar_one())


async def list_for_payment(
    session: AsyncSession, merchant_id: uuid.UUID, payment_id: uuid.UUID, page: PageRequest
) -> Page[Refund]:
    owned = select(Refund).where(
        col(Refund.payment_id) == payment_id, col(Refund.merchant_id) == merchant_id
    )
    statement = paginate_newest_first(owned, Refund, page)
    return page_from_rows(list((await session.execute(statement)).scalars()), page)


async def pending_before(
    session: AsyncSession,
    cutoff: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[datetime, uuid.UUID, uuid.UUID]]:
    """(created_at, id, payment_id) of pending refunds created before `cutoff`, oldest first.

    The status is a literal, as in payments.repository.pending_before, so PostgreSQL can use the
    partial index ix_refunds_pending_created."""
    statement = (
        select(col(Refund.created_at), col(Refund.id), col(Refund.payment_id))
        .where(text("refunds.status = 'pending'"), col(Refund.created_at) < cutoff)
        .order_by(col(Refund.created_at), col(Refund.id))
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(tuple_(col(Refund.created_at), col(Refund.id)) > after)
    rows = await session.execute(statement)
    return [(created_at, refund_id, payment_id) for created_at, refund_id, payment_id in rows.all()]
