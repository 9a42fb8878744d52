"""`run_idempotent` for work written on the driver connection (db/driver.py), not a session.

The same contract (CONTRACT.md §1, Stripe semantics) and the same steps as `idempotent.py`, in
fewer round trips and without the ORM: the claim is one autocommitted insert (a concurrent
duplicate sees it at once); the work stores its response in the statement that commits it (for
create-payment, one statement: three round trips in all, no BEGIN/COMMIT); a business refusal is
stored, a validation or server error releases the key. Each write after the claim is fenced by
the claim's token (idempotency/service.py): a request whose claim was taken over writes nothing
and answers 409. The request holds one pooled connection throughout, and no other.
"""

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from payments_api.errors import payments_error_body
from payments_api.idempotent import json_or_none, takeover_window, without_secrets
from payments_api.state import ApiState
from payments_core.db.driver import DriverConnection, driver_connection
from payments_core.errors import IdempotencyClaimLost, PaymentsError
from payments_core.idempotency import direct as idempotency
from payments_core.idempotency.direct import ResponseToStore
from payments_core.idempotency.service import ClaimToken, StoredResponse, fingerprint

OnCommit = list[Callable[[], None]]


class Outcome:
    """What the work hands back: its response (`respond`, which returns what its committing
    statement must store on the key) and callbacks to run once it has committed (`on_commit`:
    metrics, never counting what rolled back)."""

    def __init__(self, merchant_id: uuid.UUID | None, key: str | None) -> None:
        self.merchant_id, self._key = merchant_id, key
        self.claim_token: ClaimToken | None = None  # the key's, once claimed
        self.on_commit: OnCommit = []
        self.status_code = 0  # none yet
        self.encoded = ""

    def respond(self, status_code: int, body: dict[str, Any]) -> ResponseToStore:
        self.status_code, self.encoded = status_code, _encode(body)
        kept = without_secrets(body)
        stored = self.encoded if kept is body else _encode(kept)
        return ResponseToStore(self.merchant_id, self._key, self.claim_token, status_code, stored)


# The work must store `outcome.respond(...)`'s value in the statement (or transaction) that
# commits its change: a crash then leaves either both or neither.
DirectWork = Callable[[DriverConnection, Outcome], Awaitable[None]]


async def run_idempotent_direct(
    request: Request,
    state: ApiState,
    merchant_id: uuid.UUID | None,
    key: str | None,
    work: DirectWork,
) -> Response:
    """Do `work` on a pooled driver connection; with a key, claim it first (committed at once,
    so a concurrent duplicate sees it), and replay, refuse or release as the contract says.

    The connection is held for the statements and the work only: the body's fingerprint is
    computed before the checkout, the on-commit callbacks (metrics, a log line) run after the
    connection is back: under 32 concurrent requests and 20 connections every checkout waits
    (py-spy put ~20% of the API's samples in the pool's wait_for before this)."""
    outcome = Outcome(merchant_id, key)
    if key is None:
        async with driver_connection(state.engine) as connection:
            await work(connection, outcome)
        return _finish(outcome)
    body_fingerprint = fingerprint(json_or_none(await request.body()))
    async with driver_connection(state.engine) as connection:
        early = await _run_keyed(
            request, connection, key, body_fingerprint, work, outcome, takeover_window(state)
        )
    return early if early is not None else _finish(outcome)


async def _run_keyed(
    request: Request,
    connection: DriverConnection,
    key: str,
    body_fingerprint: str,
    work: DirectWork,
    outcome: Outcome,
    takeover_after: timedelta,
) -> Response | None:
    """A response when the request ends without the work's own (replay, refusal); None when
    the work committed its response into `outcome`."""
    merchant_id = outcome.merchant_id
    claimed = await idempotency.claim(
        connection,
        merchant_id,
        key,
        request.method,
        request.url.path,
        body_fingerprint,
        takeover_after=takeover_after,
    )
    if isinstance(claimed, StoredResponse):
        return JSONResponse(
            claimed.body, claimed.status_code, headers={"Idempotent-Replayed": "true"}
        )
    outcome.claim_token = token = claimed
    try:
        await work(connection, outcome)
    except IdempotencyClaimLost:
        raise  # the key is another request's now: nothing of ours to store or release
    except PaymentsError as error:
        if error.status_code == 400 or error.status_code >= 500:
            await idempotency.release(connection, merchant_id, key, token)
            raise
        # A business refusal (404, 409) is the request's outcome: replay it like a success.
        refusal = payments_error_body(request, error)
        await idempotency.store(
            connection, merchant_id, key, token, StoredResponse(error.status_code, refusal)
        )
        return JSONResponse(refusal, error.status_code)
    except BaseException:
        await idempotency.release(connection, merchant_id, key, token)
        raise
    return None


def _finish(outcome: Outcome) -> Response:
    """Run what waited for the commit, then answer with the work's response."""
    if not outcome.status_code:
        raise RuntimeError("the work ended without a response (Outcome.respond)")
    for callback in outcome.on_commit:
        callback()
    return Response(outcome.encoded.encode(), outcome.status_code, media_type="application/json")


def _encode(body: dict[str, Any]) -> str:
    """As Starlette's JSONResponse renders, once: the response and the stored copy share it."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
