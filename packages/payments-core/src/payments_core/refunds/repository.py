"""SQL for refunds; reads are scoped to the owning merchant."""

import uuid

from sqlalchemy import func
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
