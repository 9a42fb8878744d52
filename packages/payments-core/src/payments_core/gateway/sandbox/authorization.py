"""Authorize: hold an amount on the instrument, once per idempotency key.

The vaulted card's behaviour decides the outcome; the ledger row decides every later answer under
the same key, so a retry never creates a second hold and a decline stays a decline.
"""

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.session import transaction
from payments_core.gateway.connector import AuthorizeRequest, GatewayResult
from payments_core.gateway.errors import (
    AuthenticationRequired,
    GatewayDeclined,
    GatewayTimeout,
    GatewayUnavailable,
)
from payments_core.gateway.models import SandboxLedgerEntry
from payments_core.gateway.sandbox.entries import (
    Operation,
    Outcome,
    count_attempt,
    ensure_same_request,
    find_by_key,
    new_reference,
    record_once,
)
from payments_core.gateway.sandbox.vault import behaviour_of
from payments_core.gateway.test_cards import CardBehaviour

# The 0119 card: this many attempts under a key fail with a transient error, the next approves.
TRANSIENT_FAILURES = 2

DECLINING = {CardBehaviour.DECLINE, CardBehaviour.INSUFFICIENT_FUNDS}

# A key voided before anything was authorized under it is refused with the contract's generic
# decline: the pipeline already gave the payment up, so the code only has to be final.
TOMBSTONED_DECLINE_CODE = "card_declined"


async def authorize(
    sessions: async_sessionmaker[AsyncSession],
    request: AuthorizeRequest,
    *,
    answer_timeout_seconds: float,
) -> GatewayResult:
    # Decide and commit first, answer after: the attempt count and the hold must persist even
    # when the answer is an error (a transient failure, or an answer that never arrives).
    async with transaction(sessions) as session:
        behaviour = await behaviour_of(session, request.token)
        entry = await _decide(session, request, behaviour)
    if entry is None:
        raise GatewayUnavailable("sandbox acquirer temporarily unavailable; retry")
    return await _answer(entry, behaviour, answer_timeout_seconds)


async def _decide(
    session: AsyncSession, request: AuthorizeRequest, behaviour: CardBehaviour
) -> SandboxLedgerEntry | None:
    """The ledger row that answers this key, or None for a transient failure (nothing held)."""
    entry = await find_by_key(session, request.idempotency_key)
    if entry is None:
        if behaviour is CardBehaviour.AUTHENTICATION_REQUIRED and not request.authenticated:
            # The issuer's challenge comes first; nothing is recorded, nothing held.
            raise AuthenticationRequired("the issuer requires customer authentication")
        if behaviour is CardBehaviour.TRANSIENT_THEN_SUCCEED:
            attempt = await count_attempt(session, request.idempotency_key)
            if attempt <= TRANSIENT_FAILURES:
                return None
        entry = await record_once(session, _new_authorization(request, behaviour))
    if not _is_tombstone(entry):
        # Also refuses a key that some other operation (a capture, a real void) already used.
        ensure_same_request(
            entry,
            Operation.AUTHORIZE,
            amount=request.amount,
            currency=request.currency,
            token=request.token,
        )
    return entry


def _is_tombstone(entry: SandboxLedgerEntry) -> bool:
    """A void written under the authorization's own key before anything was authorized."""
    return entry.operation == Operation.VOID and entry.parent_reference is None


def _new_authorization(request: AuthorizeRequest, behaviour: CardBehaviour) -> SandboxLedgerEntry:
    declined = behaviour in DECLINING
    return SandboxLedgerEntry(
        idempotency_key=request.idempotency_key,
        operation=Operation.AUTHORIZE.value,
        outcome=(Outcome.DECLINED if declined else Outcome.APPROVED).value,
        payment_id=request.payment_id,
        token=request.token,
        amount=request.amount,
        currency=request.currency,
        reference=None if declined else new_reference(Operation.AUTHORIZE),
        decline_code=behaviour.value if declined else None,
    )


async def _answer(
    entry: SandboxLedgerEntry, behaviour: CardBehaviour, answer_timeout_seconds: float
) -> GatewayResult:
    if _is_tombstone(entry):
        raise GatewayDeclined(
            f"authorization key {entry.idempotency_key} was voided before it was authorized",
            code=TOMBSTONED_DECLINE_CODE,
        )
    if entry.outcome != Outcome.APPROVED or entry.reference is None:
        code = entry.decline_code or TOMBSTONED_DECLINE_CODE
        raise GatewayDeclined(f"authorization declined: {code}", code=code)
    if behaviour is CardBehaviour.TIMEOUT:
        # The acquirer holds the amount, but its answer is lost: the caller only sees silence.
        await asyncio.sleep(answer_timeout_seconds)
        raise GatewayTimeout("sandbox acquirer did not answer in time")
    return GatewayResult(entry.reference)
