"""Refund: return (part of) a captured amount, once per idempotency key, never more than what
was captured minus what was already refunded."""

import functools

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.gateway.connector import GatewayResult, RefundRequest
from payments_core.gateway.errors import RefundFailed
from payments_core.gateway.models import SandboxLedgerEntry
from payments_core.gateway.sandbox import child_operation
from payments_core.gateway.sandbox.entries import Operation, Outcome, children


async def refund(
    sessions: async_sessionmaker[AsyncSession], request: RefundRequest
) -> GatewayResult:
    return await child_operation.perform(
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
