"""Run a POST's work under its Idempotency-Key (Stripe semantics, CONTRACT.md §1).

The response is stored in the work's transaction, fenced by the claim's token
(idempotency/service.py): a request whose claim was taken over rolls its work back and answers
409 `idempotency_key_in_use`.
"""

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse

from payments_api.errors import payments_error_body
from payments_api.state import ApiState
from payments_core.db.session import transaction
from payments_core.errors import IdempotencyClaimLost, PaymentsError
from payments_core.idempotency import service as idempotency
from payments_core.idempotency.service import ClaimToken, StoredResponse

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retry-safe key: the same key and body replay the first response for 24 h",
    ),
]

Work = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]

# Secrets are shown once and never stored in clear, not even inside a stored response: a replay
# answers with the same status and object, and this placeholder in place of the secret.
SHOWN_ONCE_FIELDS = frozenset({"apiKey", "webhookSecret", "secret"})
SHOWN_ONCE_PLACEHOLDER = "redacted: shown only in the first response"


async def run_idempotent(
    request: Request,
    state: ApiState,
    session: AsyncSession,
    merchant_id: uuid.UUID | None,
    key: str | None,
    work: Work,
) -> JSONResponse:
    """Do `work` in `session`'s transaction; with a key, claim it first and store the outcome."""
    if key is None:
        status_code, body = await work()
        await session.commit()
        return JSONResponse(body, status_code)

    method, path = request.method, request.url.path
    fingerprint = idempotency.fingerprint(json_or_none(await request.body()))
    # The claim commits on its own, before the work, so a concurrent duplicate sees the lock at
    # once. It commits in the request's session (ending the read-only transaction that
    # authenticated the caller): a request that took a second pooled connection while holding
    # its first would deadlock the pool under load, every request holding one, waiting for one.
    try:
        claimed = await idempotency.claim(
            session,
            merchant_id,
            key,
            method,
            path,
            fingerprint,
            takeover_after=takeover_window(state),
        )
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    if isinstance(claimed, StoredResponse):
        return JSONResponse(
            claimed.body, claimed.status_code, headers={"Idempotent-Replayed": "true"}
        )
    token = claimed
    try:
        status_code, body = await work()
        stored_response = StoredResponse(status_code, without_secrets(body))
        # Checks that the key is still ours and locks it until the commit: no takeover between.
        await idempotency.store(session, merchant_id, key, token, stored_response)
        await session.commit()
        return JSONResponse(body, status_code)
    except IdempotencyClaimLost:
        await session.rollback()  # the work too: the key is another request's now
        raise
    except PaymentsError as error:
        await session.rollback()
        if error.status_code == 400 or error.status_code >= 500:
            await _release(state, merchant_id, key, token)
            raise
        # A business refusal (404, 409) is the request's outcome: replay it like a success.
        body = payments_error_body(request, error)
        async with transaction(state.session_factory) as store_session:
            await idempotency.store(
                store_session, merchant_id, key, token, StoredResponse(error.status_code, body)
            )
        return JSONResponse(body, error.status_code)
    except BaseException:
        await session.rollback()
        await _release(state, merchant_id, key, token)
        raise


def takeover_window(state: ApiState) -> timedelta:
    """How old a claim must be before a retry may take its key over (its request presumed
    dead): IDEMPOTENCY_TAKEOVER_SECONDS, checked at start to exceed the request deadline."""
    return timedelta(seconds=state.settings.idempotency_takeover_seconds)


async def _release(
    state: ApiState, merchant_id: uuid.UUID | None, key: str, token: ClaimToken
) -> None:
    async with transaction(state.session_factory) as session:
        await idempotency.release(session, merchant_id, key, token)


def without_secrets(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    if not isinstance(data, dict) or not SHOWN_ONCE_FIELDS & data.keys():
        return body
    redacted = {
        name: SHOWN_ONCE_PLACEHOLDER if name in SHOWN_ONCE_FIELDS else value
        for name, value in data.items()
    }
    return {**body, "data": redacted}


def json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")
