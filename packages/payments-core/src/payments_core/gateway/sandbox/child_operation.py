"""Capture and refund share one shape: an operation on a parent entry (an authorization, a
capture), recorded once per idempotency key, its refusals stored as `failed` rows so that a retry
gets the same answer even if the world changed since."""

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.session import transaction
from payments_core.gateway.connector import GatewayResult
from payments_core.gateway.errors import GatewayError
from payments_core.gateway.models import SandboxLedgerEntry
from payments_core.gateway.sandbox.entries import (
    Operation,
    Outcome,
    ensure_same_request,
    find_by_key,
    find_by_reference,
    new_reference,
    record_once,
)

# Why the operation is refused given its (locked) parent, or None when it may proceed.
Refusal = Callable[[AsyncSession, SandboxLedgerEntry | None], Awaitable[str | None]]


async def perform(
    sessions: async_sessionmaker[AsyncSession],
    *,
    operation: Operation,
    parent_operation: Operation,
    idempotency_key: str,
    parent_reference: str,
    amount: int,
    currency: str,
    refusal: Refusal,
    refused: type[GatewayError],
) -> GatewayResult:
    async with transaction(sessions) as session:
        entry = await find_by_key(session, idempotency_key)
        if entry is None:
            # The parent's lock serializes this operation with its siblings (other captures,
            # voids, refunds of the same parent), so limits are exact under concurrency.
            parent = await find_by_reference(session, parent_reference, parent_operation, lock=True)
            reason = await refusal(session, parent)
            entry = await record_once(
                session,
                SandboxLedgerEntry(
                    idempotency_key=idempotency_key,
                    operation=operation.value,
                    outcome=(Outcome.FAILED if reason else Outcome.APPROVED).value,
                    payment_id=parent.payment_id if parent else None,
                    amount=amount,
                    currency=currency,
                    reference=None if reason else new_reference(operation),
                    parent_reference=parent_reference,
                    decline_code=reason,
                ),
            )
    ensure_same_request(
        entry, operation, amount=amount, currency=currency, parent_reference=parent_reference
    )
    if entry.outcome != Outcome.APPROVED or entry.reference is None:
        raise refused(f"{operation.value} refused: {entry.decline_code}")
    return GatewayResult(entry.reference)
