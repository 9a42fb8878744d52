"""Void: release whatever was authorized under an authorization's idempotency key.

Voiding by the authorization's key (not its reference) works when the authorization's answer
never arrived. When nothing was authorized under the key yet, the void writes a tombstone: an
approved `void` row *under the authorization's key*. It occupies that key in the unique index,
so an authorization arriving late (a retry still in flight) finds it and is refused: the void
and the late authorization cannot both win. The tombstone has no parent, no amount and no
payment id (a VoidRequest carries none).
"""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.session import transaction
from payments_core.gateway.connector import VoidRequest, VoidResult
from payments_core.gateway.errors import VoidRefused
from payments_core.gateway.models import SandboxLedgerEntry
from payments_core.gateway.sandbox.entries import (
    Operation,
    Outcome,
    children,
    find_by_key,
    new_reference,
    record_once,
)


async def void(sessions: async_sessionmaker[AsyncSession], request: VoidRequest) -> VoidResult:
    async with transaction(sessions) as session:
        entry = await find_by_key(session, request.idempotency_key)
        if entry is None:
            entry = await _void_authorization(session, request)
    if entry is None or entry.outcome == Outcome.APPROVED:
        # reference is None for a tombstone: there was nothing to release.
        return VoidResult(entry.reference if entry else None)
    raise VoidRefused(f"void refused: {entry.decline_code}")


async def _void_authorization(
    session: AsyncSession, request: VoidRequest
) -> SandboxLedgerEntry | None:
    """The row that answers this void; None when the key's authorization was declined."""
    key = request.authorization_idempotency_key
    # Locking the authorization serializes this void with captures and other voids of it.
    authorization = await find_by_key(session, key, lock=True)
    if authorization is None:
        winner = await record_once(session, _tombstone(key))
        if winner.operation == Operation.VOID:
            return winner
        # An authorization committed between our read and our insert: void it instead.
        authorization = await find_by_key(session, key, lock=True)
        assert authorization is not None
    if authorization.operation == Operation.VOID:
        return authorization  # a tombstone written by an earlier void
    if authorization.outcome != Outcome.APPROVED or authorization.reference is None:
        return None  # declined: nothing is held
    earlier_voids = await children(session, authorization.reference, Operation.VOID)
    if earlier_voids:
        return earlier_voids[0]  # voided already, under another void key
    captured = bool(await children(session, authorization.reference, Operation.CAPTURE))
    return await record_once(session, _void_of(request, authorization, captured=captured))


def _tombstone(authorization_key: str) -> SandboxLedgerEntry:
    return SandboxLedgerEntry(
        idempotency_key=authorization_key,
        operation=Operation.VOID.value,
        outcome=Outcome.APPROVED.value,
    )


def _void_of(
    request: VoidRequest, authorization: SandboxLedgerEntry, *, captured: bool
) -> SandboxLedgerEntry:
    return SandboxLedgerEntry(
        idempotency_key=request.idempotency_key,
        operation=Operation.VOID.value,
        outcome=(Outcome.FAILED if captured else Outcome.APPROVED).value,
        payment_id=authorization.payment_id,
        token=authorization.token,
        amount=authorization.amount,
        currency=authorization.currency,
        reference=None if captured else new_reference(Operation.VOID),
        parent_reference=authorization.reference,
        decline_code="authorization_captured" if captured else None,
    )
