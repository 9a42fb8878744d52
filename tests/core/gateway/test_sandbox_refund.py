"""Sandbox refund: by capture reference, idempotent by key, never beyond what was captured."""

import asyncio

import pytest

from payments_core.gateway.errors import RefundFailed
from payments_core.gateway.models import SandboxLedgerEntry
from payments_core.gateway.sandbox import SandboxConnector
from tests.core.gateway.sandbox_support import (
    AMOUNT,
    SUCCEEDING_CARDS,
    Payment,
    Sessions,
    ledger,
    vault,
)


async def captured(sandbox: SandboxConnector, payment: Payment) -> str:
    token = await vault(sandbox, SUCCEEDING_CARDS[0])
    authorization = await sandbox.authorize(payment.authorize(token))
    return (await sandbox.capture(payment.capture(authorization.reference))).reference


def refunds(rows: list[SandboxLedgerEntry], outcome: str) -> list[SandboxLedgerEntry]:
    return [row for row in rows if row.operation == "refund" and row.outcome == outcome]


async def test_partial_refunds_up_to_the_captured_amount_then_refused(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    capture = await captured(sandbox, payment)

    first = await sandbox.refund(payment.refund(capture, AMOUNT - 1_000, step="refund-1"))
    rest = await sandbox.refund(payment.refund(capture, 1_000, step="refund-2"))
    with pytest.raises(RefundFailed):
        await sandbox.refund(payment.refund(capture, 1, step="refund-3"))

    assert first.reference.startswith("ref_") and rest.reference != first.reference
    rows = await ledger(sessions, payment)
    assert sum(row.amount or 0 for row in refunds(rows, "approved")) == AMOUNT
    assert all(row.parent_reference == capture for row in refunds(rows, "approved"))


async def test_a_refund_larger_than_the_capture_is_refused_on_every_retry(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    capture = await captured(sandbox, payment)

    for _ in range(2):
        with pytest.raises(RefundFailed) as failed:
            await sandbox.refund(payment.refund(capture, AMOUNT + 1))
        assert failed.value.code == "refund_failed"

    assert len(refunds(await ledger(sessions, payment), "failed")) == 1


async def test_same_refund_key_twice_refunds_once(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    capture = await captured(sandbox, payment)

    first = await sandbox.refund(payment.refund(capture, AMOUNT))
    second = await sandbox.refund(payment.refund(capture, AMOUNT))

    assert first == second
    assert len(refunds(await ledger(sessions, payment), "approved")) == 1


async def test_concurrent_refunds_never_exceed_the_capture(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    capture = await captured(sandbox, payment)
    part = AMOUNT * 2 // 5  # two fit, the third does not

    outcomes = await asyncio.gather(
        *(sandbox.refund(payment.refund(capture, part, step=f"refund-{n}")) for n in range(3)),
        return_exceptions=True,
    )

    assert sum(isinstance(outcome, RefundFailed) for outcome in outcomes) == 1
    assert len(refunds(await ledger(sessions, payment), "approved")) == 2


async def test_refunding_an_unknown_capture_fails(
    sandbox: SandboxConnector, payment: Payment
) -> None:
    with pytest.raises(RefundFailed):
        await sandbox.refund(payment.refund("cap_that_never_was", 100))
