"""SQL for payment methods; every read is scoped to the owning merchant."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments_core.db.driver import DriverConnection, fetchrow
from payments_core.db.queries import paginate_newest_first
from payments_core.pagination import Page, PageRequest, page_from_rows
from payments_core.payment_methods.models import PaymentMethod


async def get_owned(
    session: AsyncSession, merchant_id: uuid.UUID, method_id: uuid.UUID, *, for_update: bool = False
) -> PaymentMethod | None:
    statement = select(PaymentMethod).where(
        col(PaymentMethod.id) == method_id,
        col(PaymentMethod.merchant_id) == merchant_id,
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def is_active(
    connection: DriverConnection, merchant_id: uuid.UUID, method_id: uuid.UUID
) -> bool | None:
    """Whether the merchant's payment method is active; None when it has no such method."""
    row = await fetchrow(
        connection,
        "SELECT is_active FROM payment_methods WHERE id = $1 AND merchant_id = $2",
        method_id,
        merchant_id,
    )
    return bool(row["is_active"]) if row is not None else None


async def list_page(
    session: AsyncSession, merchant_id: uuid.UUID, page: PageRequest
) -> Page[PaymentMethod]:
    statement = select(PaymentMethod).where(col(PaymentMethod.merchant_id) == merchant_id)
    statement = paginate_newest_first(statement, PaymentMethod, page)
    return page_from_rows(list((await session.execute(statement)).scalars()), page)
