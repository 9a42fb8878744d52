"""The sandbox ledger's read side: a payment's rows in order, counts, open holds."""

from payments_core.db.session import transaction
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.gateway.sandbox.entries import Operation, Outcome
from payments_core.gateway.sandbox.ledger import count_entries
from tests.core.gateway.sandbox_support import (
    AMOUNT,
    SUCCEEDING_CARDS,
    Payment,
    Sessions,
    holds,
    ledger,
    vault,
)


async def test_a_payments_life_reads_back_in_order_with_counts(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, SUCCEEDING_CARDS[0])
    authorization = await sandbox.authorize(payment.authorize(token))
    assert len(await holds(sessions, payment)) == 1
    capture = await sandbox.capture(payment.capture(authorization.reference))
    await sandbox.refund(payment.refund(capture.reference, AMOUNT // 2, step="refund-1"))
    await sandbox.refund(payment.refund(capture.reference, AMOUNT // 2, step="refund-2"))

    rows = await ledger(sessions, payment)

    assert [row.operation for row in rows] == ["authorize", "capture", "refund", "refund"]
    assert all(row.payment_id == payment.id for row in rows)
    async with transaction(sessions) as session:
        refunded = await count_entries(session, payment.id, Operation.REFUND, Outcome.APPROVED)
        failed = await count_entries(session, payment.id, Operation.CAPTURE, Outcome.FAILED)
    assert (refunded, failed) == (2, 0)
    assert await holds(sessions, payment) == []
