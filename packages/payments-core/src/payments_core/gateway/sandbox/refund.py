"""Refund: return (part of) a captured amount, once per idempotency key, never more than what
was captured minus what was already refunded.

The 9235 card refunds, but its answer never arrives (each call, first or repeated, times out):
the caller cannot tell whether money moved, only a lookup of the key can.
"""

import asyncio
import functools

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.gateway.connector import GatewayResult, RefundRequest
from payments_core.gateway.errors import GatewayTimeout, RefundFailed
from payments_core.gateway.models import SandboxLedgerEntry
from payments_core.gateway.sandbox import child_operation
from payments_core.gateway.sandbox.entries import Operation, Outcome, children, find_by_reference
from payments_core.gateway.sandbox.vault import behaviour_of
from payments_core.gateway.test_cards import CardBehaviour


async def refund(
    sessions: async_sessionmaker[AsyncSession],
    request: RefundRequest,
    *,
    answer_timeout_seconds: float,
) -> GatewayResult:
    result = await child_operation.perform(
        sessions,
        operation=Operation.REFUND,
        parent_operation=Operation.CAPTURE,
        idempotency_key=request.idempotency_key,
        parent_reference=request.capture_reference,
        amount=request.amount,
        currency=request.currency,
        refusal=functools.partial(_refusal, request),
        refused=RefundFailed,
    )
    async with sessions() as session:
        behaviour = await _card_behaviour(session, request.capture_reference)
    if behaviour is CardBehaviour.REFUND_TIMEOUT:
        await asyncio.sleep(answer_timeout_seconds)
        raise GatewayTimeout("sandbox acquirer did not answer the refund in time")
    return result


async def _card_behaviour(session: AsyncSession, capture_reference: str) -> CardBehaviour:
    """The behaviour of the card whose authorization the refunded capture took."""
    captured = await find_by_reference(session, capture_reference, Operation.CAPTURE)
    if captured is None or captured.parent_reference is None:
        return CardBehaviour.SUCCEED
    authorization = await find_by_reference(session, captured.parent_reference, Operation.AUTHORIZE)
    return await behaviour_of(session, authorization.token if authorization else None)


async def _refusal(
    request: RefundRequest, session: AsyncSession, captured: SandboxLedgerEntry | None
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
