"""Issuing, authenticating and revoking API keys."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.api_keys import repository
from payments_core.api_keys.models import ApiKey
from payments_core.api_keys.repository import ActiveKey
from payments_core.api_keys.secrets import generate_key, hash_key, looks_like_key
from payments_core.db.driver import DriverConnection
from payments_core.errors import AuthenticationFailed, NotFound
from payments_core.merchants.models import Merchant


def issue_key(
    session: AsyncSession, merchant_id: uuid.UUID, mode: str = "test"
) -> tuple[ApiKey, str]:
    """Stage a new key; the plaintext is returned once and never stored."""
    new = generate_key(mode)
    key = ApiKey(
        merchant_id=merchant_id,
        key_hash=new.key_hash,
        prefix=new.prefix,
        last_four=new.last_four,
        mode=new.mode,
    )
    session.add(key)
    return key, new.plaintext


async def authenticate(session: AsyncSession, presented: str) -> tuple[ApiKey, Merchant]:
    if not looks_like_key(presented):
        raise AuthenticationFailed("invalid API key provided", code="invalid_api_key")
    found = await repository.find_active(session, hash_key(presented))
    if found is None:
        raise AuthenticationFailed("invalid API key provided", code="invalid_api_key")
    return found


async def authenticate_key(connection: DriverConnection, presented: str) -> ActiveKey:
    """What the API runs on every request: one indexed read, nothing hydrated, nothing cached
    (a revoked key is refused from the next request on)."""
    if not looks_like_key(presented):
        raise AuthenticationFailed("invalid API key provided", code="invalid_api_key")
    return require_active(await repository.find_active_key(connection, hash_key(presented)))


def require_active(found: ActiveKey | None) -> ActiveKey:
    """The key a lookup found, or the contract's 401."""
    if found is None:
        raise AuthenticationFailed("invalid API key provided", code="invalid_api_key")
    return found


async def revoke_key(session: AsyncSession, merchant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    key = await repository.revoke(session, merchant_id, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}", param="id")
    return key
