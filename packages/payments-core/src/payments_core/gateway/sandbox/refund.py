"""Refund: return (part of) a captured amount, once per idempotency key, never more than what
was captured minus what was already refunded. Refusals are `failed` rows, stable on retry."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.session import transaction
from payments_core.gateway.connector import GatewayResult, RefundRequest
from payments_core.gateway.errors import RefundFailed
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


async def refund(
    sessions: async_sessionmaker[AsyncSession], request: RefundRequest
) -> GatewayResult:
    async with transaction(sessions) as session:
        entry = await find_by_key(session, request.idempotency_key)
        if entry is None:
            entry = await record_once(session, await _new_refund(session, request))
    ensure_same_request(
        entry,
        Operation.REFUND,
        amount=request.amount,
        currency=request.currency,
        parent_reference=request.capture_reference,
    )
    if entry.outcome != Outcome.APPROVED or entry.reference is None:
        raise RefundFailed(f"refund refused: {entry.decline_code}")
    return GatewayResult(entry.reference)


async def _new_refund(session: AsyncSession, request: RefundRequest) -> SandboxLedgerEntry:
    # The lock on the capture makes "already refunded" exact under concurrent refunds.
    captured = await find_by_reference(
        session, request.capture_reference, Operation.CAPTURE, lock=True
    )
    refusal = await _refusal(session, request, captured)
    return SandboxLedgerEntry(
        idempotency_key=request.idempotency_key,
        operation=Operation.REFUND.value,
        outcome=(Outcome.FAILED if refusal else Outcome.APPROVED).value,
        payment_id=captured.payment_id if captured else None,
        amount=request.amount,
        currency=request.currency,
        reference=None if refusal else new_reference(Operation.REFUND),
        parent_reference=request.capture_reference,
        decline_code=refusal,
    )


async def _refusal(
    session: AsyncSession, request: RefundRequest, captured: SandboxLedgerEntry | None
) -> str | None:
    if captured is None or captured.outcome != Outcome.APPROVED:
        return "capture_unknown"
    if request.currency != captured.currency:
        return "currency_mismatch"
    refunds = await children(session, request.capture_reference, Operation.REFUND)
    refundable = (captured.amount or 0) - sum(entry.amount or 0 for entry in refunds)
    if not 0 < request.amount <= refundable:
        return "amount_exceeds_refundable"
    return None
