"""SQL for API keys."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments_core.api_keys.models import ApiKey
from payments_core.merchants.models import Merchant


async def find_active(session: AsyncSession, key_hash: str) -> tuple[ApiKey, Merchant] | None:
    statement = (
        select(ApiKey, Merchant)
        .join(Merchant, col(Merchant.id) == col(ApiKey.merchant_id))
        .where(
            col(ApiKey.key_hash) == key_hash,
            col(ApiKey.revoked_at).is_(None),
            col(Merchant.is_active).is_(True),
        )
    )
    row = (await session.execute(statement)).first()
    return (row[0], row[1]) if row else None


async def revoke(session: AsyncSession, merchant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
    statement = (
        update(ApiKey)
        .where(
            col(ApiKey.id) == key_id,
            col(ApiKey.merchant_id) == merchant_id,
        )
        # Revoking twice keeps the first revocation time.
        .values(revoked_at=func.coalesce(col(ApiKey.revoked_at), datetime.now(UTC)))
        .returning(ApiKey)
    )
    return (await session.execute(statement)).scalar_one_or_none()
