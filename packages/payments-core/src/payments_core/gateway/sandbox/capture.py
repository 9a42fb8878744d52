"""Capture: take (part of) a held amount, once per idempotency key.

Every refusal is written as a `failed` row under the key, so a retry gets the same refusal even
if the world changed since (a capture refused for a void stays refused).
"""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.session import transaction
from payments_core.gateway.connector import CaptureRequest, GatewayResult
from payments_core.gateway.errors import CaptureFailed
from payments_core.gateway.models import SandboxLedgerEntry
from payments_core.gateway.sandbox.entries import (
    Operation,
    Outcome,
    children,
    ensure_same_request,
    find_by_key,
    find_by_reference,
    new_reference,
    record_once,
)
from payments_core.gateway.sandbox.vault import behaviour_of
from payments_core.gateway.test_cards import CardBehaviour


async def capture(
    sessions: async_sessionmaker[AsyncSession], request: CaptureRequest
) -> GatewayResult:
    async with transaction(sessions) as session:
        entry = await find_by_key(session, request.idempotency_key)
        if entry is None:
            entry = await record_once(session, await _new_capture(session, request))
    ensure_same_request(
        entry,
        Operation.CAPTURE,
        amount=request.amount,
        currency=request.currency,
        parent_reference=request.authorization_reference,
    )
    if entry.outcome != Outcome.APPROVED or entry.reference is None:
        raise CaptureFailed(f"capture refused: {entry.decline_code}")
    return GatewayResult(entry.reference)


async def _new_capture(session: AsyncSession, request: CaptureRequest) -> SandboxLedgerEntry:
    # The lock serializes this capture with any void or other capture of the same authorization.
    authorization = await find_by_reference(
        session, request.authorization_reference, Operation.AUTHORIZE, lock=True
    )
    refusal = await _refusal(session, request, authorization)
    return SandboxLedgerEntry(
        idempotency_key=request.idempotency_key,
        operation=Operation.CAPTURE.value,
        outcome=(Outcome.FAILED if refusal else Outcome.APPROVED).value,
        payment_id=authorization.payment_id if authorization else None,
        amount=request.amount,
        currency=request.currency,
        reference=None if refusal else new_reference(Operation.CAPTURE),
        parent_reference=request.authorization_reference,
        decline_code=refusal,
    )


async def _refusal(
    session: AsyncSession, request: CaptureRequest, authorization: SandboxLedgerEntry | None
) -> str | None:
    """Why this capture is refused, or None when it may proceed."""
    if authorization is None or authorization.outcome != Outcome.APPROVED:
        return "authorization_unknown"
    if await children(session, request.authorization_reference, Operation.VOID):
        return "authorization_voided"
    if await children(session, request.authorization_reference, Operation.CAPTURE):
        # One capture per authorization; the same key was answered above from its own row.
        return "authorization_already_captured"
    if request.currency != authorization.currency:
        return "currency_mismatch"
    if not 0 < request.amount <= (authorization.amount or 0):
        return "amount_exceeds_authorization"
    if await behaviour_of(session, authorization.token) is CardBehaviour.CAPTURE_FAILS:
        return "capture_failed"
    return None
