"""Capture: take (part of) a held amount, once per idempotency key; one capture per hold."""

import functools

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.gateway.connector import CaptureRequest, GatewayResult
from payments_core.gateway.errors import CaptureFailed
from payments_core.gateway.models import SandboxLedgerEntry
from payments_core.gateway.sandbox import child_operation
from payments_core.gateway.sandbox.entries import Operation, Outcome, children
from payments_core.gateway.sandbox.vault import behaviour_of
from payments_core.gateway.test_cards import CardBehaviour


async def capture(
    sessions: async_sessionmaker[AsyncSession], request: CaptureRequest
) -> GatewayResult:
    return await child_operation.perform(
        sessions,
        operation=Operation.CAPTURE,
        parent_operation=Operation.AUTHORIZE,
        idempotency_key=request.idempotency_key,
        parent_reference=request.authorization_reference,
        amount=request.amount,
        currency=request.currency,
        refusal=functools.partial(_refusal, request),
        refused=CaptureFailed,
    )


async def _refusal(
    request: CaptureRequest, session: AsyncSession, authorization: SandboxLedgerEntry | None
) -> str | None:
    if authorization is None or authorization.outcome != Outcome.APPROVED:
        return "authorization_unknown"
    done = {
        entry.operation
        for entry in await children(
            session, request.authorization_reference, Operation.VOID, Operation.CAPTURE
        )
    }
    if Operation.VOID.value in done:
        return "authorization_voided"
    if Operation.CAPTURE.value in done:
        # One capture per authorization; the same key was answered from its own row.
        return "authorization_already_captured"
    if request.currency != authorization.currency:
        return "currency_mismatch"
    if not 0 < request.amount <= (authorization.amount or 0):
        return "amount_exceeds_authorization"
    if await behaviour_of(session, authorization.token) is CardBehaviour.CAPTURE_FAILS:
        return "capture_failed"
    return None
