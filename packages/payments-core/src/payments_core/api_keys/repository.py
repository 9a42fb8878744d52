"""SQL for API keys."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments_core.api_keys.models import ApiKey
from payments_core.db.driver import DriverConnection, fetchrow
from payments_core.merchants.models import Merchant

# Every authenticated request runs it: plain SQL on the driver connection (db/driver.py).
# `routed`: the merchant has an enabled connector of the key's mode, so its payments are routed
# (payments/service.py asks which one only then: a sandbox merchant's create stays one statement).
ROUTED = """EXISTS (
        SELECT FROM connectors AS c
        WHERE c.merchant_id = k.merchant_id AND c.mode = k.mode AND c.enabled
          AND c.deleted_at IS NULL
    ) AS routed"""
_FIND_ACTIVE_KEY = f"""
    SELECT k.id, k.merchant_id, k.mode, {ROUTED}
    FROM api_keys AS k JOIN merchants AS m ON m.id = k.merchant_id
    WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND m.is_active
"""  # noqa: S608 - constants only


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """An unrevoked key of an active merchant, as read at this moment (never cached)."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    mode: str
    routed: bool


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


async def find_active_key(connection: DriverConnection, key_hash: str) -> ActiveKey | None:
    row = await fetchrow(connection, _FIND_ACTIVE_KEY, key_hash)
    if row is None:
        return None
    return ActiveKey(row["id"], row["merchant_id"], row["mode"], row["routed"])


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
