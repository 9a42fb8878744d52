"""`run_idempotent` for work written on the driver connection (db/driver.py), not a session.

The same contract (CONTRACT.md §1, Stripe semantics) and the same steps as `idempotent.py`, in
fewer round trips and without the ORM: the claim is one autocommitted insert (a concurrent
duplicate sees it at once); the work and its stored response commit in one transaction; a
business refusal is stored, a validation or server error releases the key. The request holds one
pooled connection throughout, and no other.
"""

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from payments_api.errors import payments_error_body
from payments_api.idempotent import json_or_none, without_secrets
from payments_api.state import ApiState
from payments_core.db.driver import DriverConnection, driver_connection
from payments_core.errors import PaymentsError
from payments_core.idempotency import direct as idempotency
from payments_core.idempotency.service import StoredResponse, fingerprint

OnCommit = list[Callable[[], None]]
DirectWork = Callable[[DriverConnection, OnCommit], Awaitable[tuple[int, dict[str, Any]]]]


async def run_idempotent_direct(
    request: Request,
    state: ApiState,
    merchant_id: uuid.UUID | None,
    key: str | None,
    work: DirectWork,
) -> Response:
    """Do `work` in one transaction on a pooled driver connection; with a key, claim it first
    and store the outcome with the work. Callbacks the work left in its `OnCommit` list run
    only once the work has committed (metrics: never count what rolled back)."""
    async with driver_connection(state.engine) as connection:
        if key is None:
            on_commit: OnCommit = []
            async with connection.transaction():
                status_code, body = await work(connection, on_commit)
            _run(on_commit)
            return _json_response(_encode(body), status_code)
        return await _run_keyed(request, connection, merchant_id, key, work)


async def _run_keyed(
    request: Request,
    connection: DriverConnection,
    merchant_id: uuid.UUID | None,
    key: str,
    work: DirectWork,
) -> Response:
    body_fingerprint = fingerprint(json_or_none(await request.body()))
    stored = await idempotency.claim(
        connection, merchant_id, key, request.method, request.url.path, body_fingerprint
    )
    if stored is not None:
        return JSONResponse(
            stored.body, stored.status_code, headers={"Idempotent-Replayed": "true"}
        )
    on_commit: OnCommit = []
    try:
        async with connection.transaction():
            status_code, body = await work(connection, on_commit)
            encoded = _encode(body)
            kept = without_secrets(body)
            await idempotency.store(
                connection,
                merchant_id,
                key,
                StoredResponse(status_code, kept),
                body_json=encoded if kept is body else None,
            )
    except PaymentsError as error:
        if error.status_code == 400 or error.status_code >= 500:
            await idempotency.release(connection, merchant_id, key)
            raise
        # A business refusal (404, 409) is the request's outcome: replay it like a success.
        refusal = payments_error_body(request, error)
        await idempotency.store(
            connection, merchant_id, key, StoredResponse(error.status_code, refusal)
        )
        return JSONResponse(refusal, error.status_code)
    except BaseException:
        await idempotency.release(connection, merchant_id, key)
        raise
    _run(on_commit)
    return _json_response(encoded, status_code)


def _encode(body: dict[str, Any]) -> str:
    """As Starlette's JSONResponse renders, once: the response and the stored copy share it."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _json_response(encoded: str, status_code: int) -> Response:
    return Response(encoded.encode(), status_code, media_type="application/json")


def _run(callbacks: OnCommit) -> None:
    for callback in callbacks:
        callback()
