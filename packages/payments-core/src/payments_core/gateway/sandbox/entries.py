"""Writing the sandbox ledger exactly once per idempotency key.

The unique index on `idempotency_key` is the arbiter: concurrent calls with one key all try to
insert, one wins, and every caller reads back (and answers from) the winner's row. Under READ
COMMITTED an insert that conflicts with an uncommitted row waits for it, so the read back always
sees the committed winner.
"""

import secrets
from enum import StrEnum

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments_core.gateway.errors import GatewayError
from payments_core.gateway.models import SandboxAttempt, SandboxLedgerEntry


class Operation(StrEnum):
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


class Outcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    FAILED = "failed"


REFERENCE_PREFIXES = {
    Operation.AUTHORIZE: "auth",
    Operation.CAPTURE: "cap",
    Operation.VOID: "void",
    Operation.REFUND: "ref",
}


def new_reference(operation: Operation) -> str:
    return f"{REFERENCE_PREFIXES[operation]}_{secrets.token_hex(12)}"


async def find_by_key(
    session: AsyncSession, key: str, *, lock: bool = False
) -> SandboxLedgerEntry | None:
    statement = select(SandboxLedgerEntry).where(col(SandboxLedgerEntry.idempotency_key) == key)
    return await _one_or_none(session, statement, lock=lock)


async def find_by_reference(
    session: AsyncSession, reference: str, operation: Operation, *, lock: bool = False
) -> SandboxLedgerEntry | None:
    statement = select(SandboxLedgerEntry).where(
        col(SandboxLedgerEntry.reference) == reference,
        col(SandboxLedgerEntry.operation) == operation.value,
    )
    return await _one_or_none(session, statement, lock=lock)


async def children(
    session: AsyncSession, parent_reference: str, *operations: Operation
) -> list[SandboxLedgerEntry]:
    """The approved captures, voids or refunds (those of `operations`) made against one
    authorization or capture, in one statement."""
    statement = select(SandboxLedgerEntry).where(
        col(SandboxLedgerEntry.parent_reference) == parent_reference,
        col(SandboxLedgerEntry.operation).in_([operation.value for operation in operations]),
        col(SandboxLedgerEntry.outcome) == Outcome.APPROVED.value,
    )
    return list((await session.execute(statement)).scalars().all())


async def record_once(session: AsyncSession, entry: SandboxLedgerEntry) -> SandboxLedgerEntry:
    """Insert `entry` unless its key already has a row; return the row the key ended up with
    (the inserted one comes back from the insert itself: a second statement only on conflict)."""
    inserted = await session.execute(
        insert(SandboxLedgerEntry)
        .values(entry.model_dump())
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(SandboxLedgerEntry)
        .execution_options(populate_existing=True)
    )
    recorded = inserted.scalar_one_or_none()
    if recorded is None:
        recorded = await find_by_key(session, entry.idempotency_key)
    assert recorded is not None, "the insert or the conflicting row guarantees a row"
    return recorded


async def count_attempt(session: AsyncSession, key: str) -> int:
    """Count one more attempt under `key` in a single statement (atomic under concurrency)."""
    statement = (
        insert(SandboxAttempt)
        .values(idempotency_key=key, attempts=1)
        .on_conflict_do_update(
            index_elements=["idempotency_key"],
            set_={"attempts": col(SandboxAttempt.attempts) + 1},
        )
        .returning(col(SandboxAttempt.attempts))
    )
    return int((await session.execute(statement)).scalar_one())


def ensure_same_request(
    entry: SandboxLedgerEntry,
    operation: Operation,
    *,
    amount: int | None,
    currency: str | None,
    parent_reference: str | None = None,
    token: str | None = None,
) -> None:
    """A key reused for a different call is a caller's bug: refuse it, as an acquirer would,
    rather than answer with the first call's outcome for money the caller did not ask about."""
    same = (
        entry.operation == operation.value
        and entry.amount == amount
        and entry.currency == currency
        and entry.parent_reference == parent_reference
        and entry.token == token
    )
    if not same:
        raise GatewayError(
            f"idempotency key {entry.idempotency_key} was already used for a different request",
            code="idempotency_key_reused",
        )


async def _one_or_none(
    session: AsyncSession, statement: Select[SandboxLedgerEntry], *, lock: bool
) -> SandboxLedgerEntry | None:
    if lock:
        statement = statement.with_for_update()
    # populate_existing: a row read earlier in this session must show what the lock now sees.
    statement = statement.execution_options(populate_existing=True)
    return (await session.execute(statement)).scalar_one_or_none()
