"""Sandbox capture: by authorization reference, idempotent by key, refusals final and stable."""

import pytest

from payments_core.gateway.errors import CaptureFailed
from payments_core.gateway.sandbox import SandboxConnector
from tests.core.gateway.sandbox_support import (
    AMOUNT,
    CAPTURE_FAILS_CARD,
    SUCCEEDING_CARDS,
    Payment,
    Sessions,
    holds,
    ledger,
    vault,
)


async def authorized(sandbox: SandboxConnector, payment: Payment, number: str) -> str:
    token = await vault(sandbox, number)
    return (await sandbox.authorize(payment.authorize(token))).reference


async def test_capture_takes_the_hold_once_per_key(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    authorization = await authorized(sandbox, payment, SUCCEEDING_CARDS[0])

    first = await sandbox.capture(payment.capture(authorization))
    second = await sandbox.capture(payment.capture(authorization))

    assert first == second
    assert first.reference.startswith("cap_")
    captures = [row for row in await ledger(sessions, payment) if row.operation == "capture"]
    assert len(captures) == 1
    assert (captures[0].outcome, captures[0].parent_reference) == ("approved", authorization)
    assert captures[0].payment_id == payment.id
    assert await holds(sessions, payment) == []


async def test_a_partial_capture_is_allowed(sandbox: SandboxConnector, payment: Payment) -> None:
    authorization = await authorized(sandbox, payment, SUCCEEDING_CARDS[1])

    result = await sandbox.capture(payment.capture(authorization, amount=AMOUNT - 1))

    assert result.reference.startswith("cap_")


async def test_capture_failed_card_fails_on_every_retry_with_one_failed_row(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    authorization = await authorized(sandbox, payment, CAPTURE_FAILS_CARD)

    for _ in range(3):
        with pytest.raises(CaptureFailed) as failed:
            await sandbox.capture(payment.capture(authorization))
        assert failed.value.code == "capture_failed"
        assert not failed.value.retryable

    captures = [row for row in await ledger(sessions, payment) if row.operation == "capture"]
    assert [(row.outcome, row.decline_code) for row in captures] == [("failed", "capture_failed")]
    assert len(await holds(sessions, payment)) == 1  # still held until the pipeline voids it


async def test_capturing_more_than_was_authorized_fails(
    sandbox: SandboxConnector, payment: Payment
) -> None:
    authorization = await authorized(sandbox, payment, SUCCEEDING_CARDS[0])

    with pytest.raises(CaptureFailed):
        await sandbox.capture(payment.capture(authorization, amount=AMOUNT + 1))


async def test_capturing_an_unknown_authorization_fails(
    sandbox: SandboxConnector, payment: Payment
) -> None:
    with pytest.raises(CaptureFailed):
        await sandbox.capture(payment.capture("auth_that_never_was"))


async def test_capturing_a_voided_authorization_fails(
    sandbox: SandboxConnector, payment: Payment
) -> None:
    authorization = await authorized(sandbox, payment, SUCCEEDING_CARDS[0])
    await sandbox.void(payment.void())

    with pytest.raises(CaptureFailed):
        await sandbox.capture(payment.capture(authorization))


async def test_a_second_capture_under_another_key_fails(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    authorization = await authorized(sandbox, payment, SUCCEEDING_CARDS[0])
    await sandbox.capture(payment.capture(authorization))

    with pytest.raises(CaptureFailed):
        await sandbox.capture(payment.capture(authorization, step="capture-again"))

    approved = [row for row in await ledger(sessions, payment) if row.outcome == "approved"]
    assert [row.operation for row in approved].count("capture") == 1
