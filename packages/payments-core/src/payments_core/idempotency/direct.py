"""The idempotency key's claim, store and release as plain SQL on the driver connection.

The same semantics as `service` (one decision, `decide_on_existing`), for the hot path that runs
on the driver connection (db/driver.py). The connection is in autocommit: the claim's insert
commits by itself, so a concurrent duplicate sees the lock at once. The final response is
stored by the statement that commits the work (a `ResponseToStore` it writes, as
payments.repository's insert does), or by `store` for a refusal. Every write after the claim is
fenced by the claim's token, as in `service`: that statement must commit nothing unless the key
still carries `ResponseToStore.claim_token` (it locks the row and checks, in one statement).
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from payments_core.db.driver import DriverConnection, execute, fetchrow
from payments_core.errors import IdempotencyKeyInUse
from payments_core.idempotency.service import (
    ClaimToken,
    ExistingClaim,
    StoredResponse,
    claim_lost,
    decide_on_existing,
    key_in_use,
)

_INSERT = """
    INSERT INTO idempotency_keys (id, merchant_id, key, method, path, fingerprint, locked_at,
                                  claim_token, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7)
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
    UPDATE idempotency_keys SET locked_at = $3, claim_token = $4
    WHERE merchant_id IS NOT DISTINCT FROM $1 AND key = $2
"""
_STORE = """
    UPDATE idempotency_keys SET response_status = $4, response_body = $5::jsonb, locked_at = NULL
    WHERE merchant_id IS NOT DISTINCT FROM $1 AND key = $2 AND claim_token = $3
    RETURNING id
"""
_RELEASE = """
    DELETE FROM idempotency_keys
    WHERE merchant_id IS NOT DISTINCT FROM $1 AND key = $2 AND claim_token = $3
      AND response_status IS NULL
"""


@dataclass(frozen=True, slots=True)
class ResponseToStore:
    """A request's final response, for the statement that commits its work to store on its key,
    and to commit nothing unless the key still carries `claim_token`. No key (and no token):
    nothing to store, nothing to check."""

    merchant_id: uuid.UUID | None
    key: str | None
    claim_token: ClaimToken | None
    status_code: int
    body_json: str


async def claim(
    connection: DriverConnection,
    merchant_id: uuid.UUID | None,
    key: str,
    method: str,
    path: str,
    body_fingerprint: str,
    *,
    takeover_after: timedelta,
) -> StoredResponse | ClaimToken:
    """Lock the key for this request (committed on return): a finished response to replay, or
    this request's token to proceed with. Raises IdempotencyKeyReused or IdempotencyKeyInUse."""
    now = datetime.now(UTC)
    token = uuid.uuid4()
    try:
        inserted = await fetchrow(
            connection,
            _INSERT,
            uuid.uuid4(), merchant_id, key, method, path, body_fingerprint, now, token,
        )  # fmt: skip
        if inserted is not None:
            return token
        # The key exists: decide under its row lock, as `service.claim` does.
        async with connection.transaction():
            row = await fetchrow(connection, _LOCK_EXISTING, merchant_id, key)
            if row is None:  # released a moment ago by the request that held it
                raise IdempotencyKeyInUse(
                    f"a request with idempotency key {key} just finished without a response; retry",
                    param="Idempotency-Key",
                )
            existing = ExistingClaim(**dict(row))
            stored = decide_on_existing(
                existing, key, method, path, body_fingerprint, now, takeover_after
            )
            if stored is not None:
                return stored
            # The previous holder is presumed dead: a token of our own fences it out.
            await execute(connection, _TAKE_OVER, merchant_id, key, now, token)
            return token
    except asyncpg.LockNotAvailableError:
        # Both statements wait while another request writes the row (its claim, or its
        # response with its work): past lock_timeout, the key is in use.
        raise key_in_use(key) from None


async def store(
    connection: DriverConnection,
    merchant_id: uuid.UUID | None,
    key: str,
    token: ClaimToken,
    response: StoredResponse,
    *,
    body_json: str | None = None,
) -> None:
    """Store the final response (`body_json`: the body already encoded, to encode it once),
    only while `token` holds the key; IdempotencyClaimLost otherwise."""
    encoded = body_json if body_json is not None else json.dumps(response.body)
    stored = await fetchrow(
        connection, _STORE, merchant_id, key, token, response.status_code, encoded
    )
    if stored is None:
        raise claim_lost(key)


async def release(
    connection: DriverConnection, merchant_id: uuid.UUID | None, key: str, token: ClaimToken
) -> None:
    """Forget a claim whose request stored nothing (validation error, server error), unless
    another request has taken the key over since."""
    await execute(connection, _RELEASE, merchant_id, key, token)
