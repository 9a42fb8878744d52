"""Read side of the sandbox ledger, for tests and tools: what the acquirer did for a payment.

"Never charged twice" and "voided after compensation" are questions about these rows.
"""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments_core.gateway.models import SandboxLedgerEntry
from payments_core.gateway.sandbox.entries import Operation, Outcome


async def ledger_for_payment(session: AsyncSession, payment_id: str) -> list[SandboxLedgerEntry]:
    """Every row of the payment, oldest first. Tombstones (voids before any authorization) carry
    no payment id: find them with `entry_for_key(<payment>-authorize)`."""
    statement = (
        select(SandboxLedgerEntry)
        .where(col(SandboxLedgerEntry.payment_id) == payment_id)
        # created_at has millisecond precision; within one millisecond the operation's name
        # orders a payment's life (authorize < capture < refund, authorize < void).
        .order_by(col(SandboxLedgerEntry.created_at), col(SandboxLedgerEntry.operation))
    )
    return list((await session.execute(statement)).scalars().all())


async def entry_for_key(session: AsyncSession, idempotency_key: str) -> SandboxLedgerEntry | None:
    statement = select(SandboxLedgerEntry).where(
        col(SandboxLedgerEntry.idempotency_key) == idempotency_key
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def count_entries(
    session: AsyncSession, payment_id: str, operation: Operation, outcome: Outcome
) -> int:
    statement = select(func.count()).where(
        col(SandboxLedgerEntry.payment_id) == payment_id,
        col(SandboxLedgerEntry.operation) == operation.value,
        col(SandboxLedgerEntry.outcome) == outcome.value,
    )
    return int((await session.execute(statement)).scalar_one())


async def open_holds(session: AsyncSession, payment_id: str) -> list[SandboxLedgerEntry]:
    """Approved authorizations of the payment that were neither captured nor voided: money a
    customer sees held on their card. After a payment's final state this must be empty."""
    entries = await ledger_for_payment(session, payment_id)
    settled = {
        entry.parent_reference
        for entry in entries
        if entry.operation in (Operation.CAPTURE, Operation.VOID)
        and entry.outcome == Outcome.APPROVED
    }
    return [
        entry
        for entry in entries
        if entry.operation == Operation.AUTHORIZE
        and entry.outcome == Outcome.APPROVED
        and entry.reference not in settled
    ]
