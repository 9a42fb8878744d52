"""SQL for payments; every read is scoped to the owning merchant."""

import uuid
from datetime import datetime

from sqlalchemy import or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments_core.db.queries import paginate_newest_first
from payments_core.pagination import Page, PageRequest, page_from_rows
from payments_core.payments.models import Payment
from payments_core.payments.schemas import PaymentFilters


async def get_owned(
    session: AsyncSession, merchant_id: uuid.UUID, payment_id: uuid.UUID
) -> Payment | None:
    statement = select(Payment).where(
        col(Payment.id) == payment_id,
        col(Payment.merchant_id) == merchant_id,
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_by_reference(
    session: AsyncSession, merchant_id: uuid.UUID, reference: str
) -> Payment | None:
    """The system `PAY-…` reference first, then the merchant's own."""
    statement = (
        select(Payment)
        .where(
            col(Payment.merchant_id) == merchant_id,
            or_(col(Payment.reference) == reference, col(Payment.merchant_reference) == reference),
        )
        .order_by((col(Payment.reference) == reference).desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def merchant_reference_taken(
    session: AsyncSession, merchant_id: uuid.UUID, reference: str
) -> bool:
    statement = select(col(Payment.id)).where(
        col(Payment.merchant_id) == merchant_id,
        col(Payment.merchant_reference) == reference,
    )
    return (await session.execute(statement)).first() is not None


async def list_page(
    session: AsyncSession, merchant_id: uuid.UUID, filters: PaymentFilters, page: PageRequest
) -> Page[Payment]:
    statement = select(Payment).where(col(Payment.merchant_id) == merchant_id)
    if filters.status is not None:
        statement = statement.where(col(Payment.status) == filters.status.value)
    if filters.created_from is not None:
        statement = statement.where(col(Payment.created_at) >= filters.created_from)
    if filters.created_to is not None:
        statement = statement.where(col(Payment.created_at) <= filters.created_to)
    statement = paginate_newest_first(statement, Payment, page)
    return page_from_rows(list((await session.execute(statement)).scalars()), page)


async def pending_before(
    session: AsyncSession,
    cutoff: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[datetime, uuid.UUID]]:
    """(created_at, id) of pending payments created before `cutoff`, oldest first.

    The status is a literal, not a parameter, so PostgreSQL can use the partial index
    ix_payments_pending_created even with a prepared statement's generic plan."""
    statement = (
        select(col(Payment.created_at), col(Payment.id))
        .where(text("payments.status = 'pending'"), col(Payment.created_at) < cutoff)
        .order_by(col(Payment.created_at), col(Payment.id))
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(tuple_(col(Payment.created_at), col(Payment.id)) > after)
    rows = await session.execute(statement)
    return [(created_at, payment_id) for created_at, payment_id in rows.all()]
