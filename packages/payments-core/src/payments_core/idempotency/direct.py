"""The idempotency key's claim, store and release as plain SQL on the driver connection.

The same semantics as `service` (one decision, `decide_on_existing`), for the hot path that runs
on the driver connection (db/driver.py). The connection is in autocommit: the claim's insert
commits by itself, so a concurrent duplicate sees the lock at once. The final response is
stored by the statement that commits the work (a `ResponseToStore` it writes, as
payments.repository's insert does), or by `store` for a refusal.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from payments_core.db.driver import DriverConnection, execute, fetchrow
from payments_core.errors import IdempotencyKeyInUse
from payments_core.idempotency.service import ExistingClaim, StoredResponse, decide_on_existing

_INSERT = """
    INSERT INTO idempotency_keys (id, merchant_id, key, method, path, fingerprint, locked_at,
                                  created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
    ON CONFLICT ON CONSTRAINT uq_idempotency_merchant_key DO NOTHING
    RETURNING id
"""
_LOCK_EXISTING = """
    SELECT method, path, fingerprint, locked_at, response_status, response_body
    FROM idempotency_keys
    WHERE merchant_id IS NOT DISTINCT FROM $1 AND key = $2
    FOR UPDATE
"""
_TAKE_OVER = """
    UPDATE idempotency_keys SET locked_at = $3
    WHERE merchant_id IS NOT DISTINCT FROM $1 AND key = $2
"""
_STORE = """
    UPDATE idempotency_keys SET response_status = $3, response_body = $4::jsonb, locked_at = NULL
    WHERE merchant_id IS NOT DISTINCT FROM $1 AND key = $2
"""
_RELEASE = """
    DELETE FROM idempotency_keys
    WHERE merchant_id IS NOT DISTINCT FROM $1 AND key = $2 AND response_status IS NULL
"""


@dataclass(frozen=True, slots=True)
class ResponseToStore:
    """A request's final response, for the statement that commits its work to store on its key.
    No key: nothing to store (the statement's update matches no row)."""

    merchant_id: uuid.UUID | None
    key: str | None
    status_code: int
    body_json: str


async def claim(
    connection: DriverConnection,
    merchant_id: uuid.UUID | None,
    key: str,
    method: str,
    path: str,
    body_fingerprint: str,
) -> StoredResponse | None:
    """Lock the key for this request (committed on return); a finished response to replay, or
    None to proceed. Raises IdempotencyKeyReused or IdempotencyKeyInUse."""
    now = datetime.now(UTC)
    inserted = await fetchrow(
        connection, _INSERT, uuid.uuid4(), merchant_id, key, method, path, body_fingerprint, now
    )
    if inserted is not None:
        return None
    # The key exists: decide under its row lock, as `service.claim` does.
    async with connection.transaction():
        row = await fetchrow(connection, _LOCK_EXISTING, merchant_id, key)
        if row is None:  # released a moment ago by the request that held it
            raise IdempotencyKeyInUse(
                f"a request with idempotency key {key} just finished without a response; retry",
                param="Idempotency-Key",
            )
        existing = ExistingClaim(**dict(row))
        stored = decide_on_existing(existing, key, method, path, body_fingerprint, now)
        if stored is None:  # the previous holder died: take the key over
            await execute(connection, _TAKE_OVER, merchant_id, key, now)
        return stored


async def store(
    connection: DriverConnection,
    merchant_id: uuid.UUID | None,
    key: str,
    response: StoredResponse,
    *,
    body_json: str | None = None,
) -> None:
    """Store the final response (`body_json`: the body already encoded, to encode it once)."""
    encoded = body_json if body_json is not None else json.dumps(response.body)
    await execute(connection, _STORE, merchant_id, key, response.status_code, encoded)


async def release(connection: DriverConnection, merchant_id: uuid.UUID | None, key: str) -> None:
    """Forget a claim whose request stored nothing (validation error, server error)."""
    await execute(connection, _RELEASE, merchant_id, key)
