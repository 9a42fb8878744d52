"""SQL for merchants."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments_core.db.queries import paginate_newest_first
from payments_core.merchants.models import Merchant
from payments_core.pagination import Page, PageRequest, page_from_rows


async def email_taken(session: AsyncSession, email: str) -> bool:
    statement = select(col(Merchant.id)).where(func.lower(Merchant.email) == email.lower())
    return (await session.execute(statement)).first() is not None


async def find_by_email(session: AsyncSession, email: str) -> Merchant | None:
    statement = select(Merchant).where(func.lower(Merchant.email) == email.lower())
    return (await session.execute(statement)).scalar_one_or_none()


async def get(session: AsyncSession, merchant_id: uuid.UUID) -> Merchant | None:
    return await session.get(Merchant, merchant_id)


async def list_page(session: AsyncSession, page: PageRequest) -> Page[Merchant]:
    statement = paginate_newest_first(select(Merchant), Merchant, page)
    return page_from_rows(list((await session.execute(statement)).scalars()), page)
