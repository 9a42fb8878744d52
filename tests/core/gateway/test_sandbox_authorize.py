"""Sandbox authorize: each test card's behaviour, idempotency by key, concurrency."""

import asyncio
import time

import pytest
from sqlalchemy import text

from payments_core.db.session import transaction
from payments_core.gateway.errors import (
    GatewayDeclined,
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
)
from payments_core.gateway.sandbox import SandboxConnector
from tests.core.gateway.conftest import ANSWER_TIMEOUT_SECONDS
from tests.core.gateway.sandbox_support import (
    AMOUNT,
    CAPTURE_FAILS_CARD,
    CURRENCY,
    DECLINED_CARD,
    INSUFFICIENT_FUNDS_CARD,
    SUCCEEDING_CARDS,
    TIMEOUT_CARD,
    TRANSIENT_CARD,
    Payment,
    Sessions,
    holds,
    ledger,
    vault,
)


@pytest.mark.parametrize("number", [*SUCCEEDING_CARDS, CAPTURE_FAILS_CARD])
async def test_approving_cards_hold_the_amount_once(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment, number: str
) -> None:
    token = await vault(sandbox, number)

    result = await sandbox.authorize(payment.authorize(token))

    assert result.reference.startswith("auth_")
    [row] = await ledger(sessions, payment)
    assert (row.operation, row.outcome, row.reference) == (
        "authorize",
        "approved",
        result.reference,
    )
    assert (row.amount, row.currency, row.token) == (AMOUNT, CURRENCY, token)
    assert row.idempotency_key == payment.key("authorize")


@pytest.mark.parametrize("token", [None, "tok_not_in_the_vault"])
async def test_instruments_without_a_vaulted_card_are_approved(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment, token: str | None
) -> None:
    result = await sandbox.authorize(payment.authorize(token))

    assert result.reference.startswith("auth_")
    assert len(await holds(sessions, payment)) == 1


@pytest.mark.parametrize(
    ("number", "reason"),
    [(DECLINED_CARD, "card_declined"), (INSUFFICIENT_FUNDS_CARD, "insufficient_funds")],
)
async def test_declining_cards_decline_with_the_contract_reason_on_every_retry(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment, number: str, reason: str
) -> None:
    token = await vault(sandbox, number)

    for _ in range(3):
        with pytest.raises(GatewayDeclined) as declined:
            await sandbox.authorize(payment.authorize(token))
        assert declined.value.code == reason
        assert not declined.value.retryable

    [row] = await ledger(sessions, payment)
    assert (row.operation, row.outcome, row.decline_code) == ("authorize", "declined", reason)
    assert row.reference is None


async def test_same_key_twice_answers_the_same_reference_from_one_row(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, SUCCEEDING_CARDS[0])

    first = await sandbox.authorize(payment.authorize(token))
    second = await sandbox.authorize(payment.authorize(token))

    assert first == second
    assert len(await ledger(sessions, payment)) == 1


async def test_concurrent_authorizations_under_one_key_make_one_hold(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, SUCCEEDING_CARDS[0])

    results = await asyncio.gather(*(sandbox.authorize(payment.authorize(token)) for _ in range(5)))

    assert len({result.reference for result in results}) == 1
    assert len(await ledger(sessions, payment)) == 1


async def test_transient_card_fails_twice_then_approves_on_the_third_attempt(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, TRANSIENT_CARD)

    for _ in range(2):
        with pytest.raises(GatewayUnavailable) as unavailable:
            await sandbox.authorize(payment.authorize(token))
        assert unavailable.value.retryable
        assert not isinstance(unavailable.value, GatewayTimeout)
        assert await ledger(sessions, payment) == []
    third = await sandbox.authorize(payment.authorize(token))
    fourth = await sandbox.authorize(payment.authorize(token))

    assert third == fourth
    assert [row.outcome for row in await ledger(sessions, payment)] == ["approved"]
    async with transaction(sessions) as session:
        query = text("SELECT attempts FROM sandbox_attempts WHERE idempotency_key = :key")
        attempts = (await session.execute(query, {"key": payment.key("authorize")})).scalar_one()
    assert attempts == 3  # the replay was answered from the ledger, not counted


async def test_timeout_card_holds_once_but_never_answers(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, TIMEOUT_CARD)

    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(GatewayTimeout) as timeout:
            await sandbox.authorize(payment.authorize(token))
        assert time.monotonic() - started >= ANSWER_TIMEOUT_SECONDS
        assert timeout.value.retryable
        assert timeout.value.code == "gateway_timeout"

    [hold] = await holds(sessions, payment)
    assert (hold.operation, hold.outcome) == ("authorize", "approved")
    assert len(await ledger(sessions, payment)) == 1


async def test_a_key_reused_for_a_different_amount_is_refused(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, SUCCEEDING_CARDS[0])
    await sandbox.authorize(payment.authorize(token, amount=AMOUNT))

    with pytest.raises(GatewayError) as reused:
        await sandbox.authorize(payment.authorize(token, amount=AMOUNT + 1))

    assert reused.value.code == "idempotency_key_reused"
    assert [row.amount for row in await ledger(sessions, payment)] == [AMOUNT]
