"""Sandbox void: by the authorization's key, releasing a hold, or tombstoning the key when
nothing was authorized yet so that a late authorization is refused."""

import asyncio

import pytest

from payments_core.gateway.connector import VoidResult
from payments_core.gateway.errors import GatewayDeclined, GatewayError, GatewayTimeout
from payments_core.gateway.sandbox import SandboxConnector
from tests.core.gateway.sandbox_support import (
    DECLINED_CARD,
    SUCCEEDING_CARDS,
    TIMEOUT_CARD,
    Payment,
    Sessions,
    entry,
    holds,
    ledger,
    vault,
)


async def test_void_releases_an_approved_hold_once(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, SUCCEEDING_CARDS[0])
    authorization = await sandbox.authorize(payment.authorize(token))

    first = await sandbox.void(payment.void())
    again = await sandbox.void(payment.void())
    under_another_key = await sandbox.void(payment.void(step="void-again"))

    assert first.reference is not None and first.reference.startswith("void_")
    assert first == again == under_another_key
    voids = [row for row in await ledger(sessions, payment) if row.operation == "void"]
    assert len(voids) == 1
    assert (voids[0].outcome, voids[0].parent_reference) == ("approved", authorization.reference)
    assert await holds(sessions, payment) == []


async def test_the_timeout_cards_unanswered_hold_is_released_by_a_void_of_its_key(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, TIMEOUT_CARD)
    for _ in range(2):
        with pytest.raises(GatewayTimeout):
            await sandbox.authorize(payment.authorize(token))
    [hold] = await holds(sessions, payment)

    result = await sandbox.void(payment.void())

    assert result.reference is not None
    void_row = await entry(sessions, payment.key("void"))
    assert void_row is not None and void_row.parent_reference == hold.reference
    assert await holds(sessions, payment) == []
    operations = sorted(row.operation for row in await ledger(sessions, payment))
    assert operations == ["authorize", "void"]


async def test_void_before_any_authorization_refuses_the_late_authorization(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, SUCCEEDING_CARDS[0])

    assert await sandbox.void(payment.void()) == VoidResult(None)
    assert await sandbox.void(payment.void()) == VoidResult(None)
    for _ in range(2):
        with pytest.raises(GatewayDeclined) as refused:
            await sandbox.authorize(payment.authorize(token))
        assert refused.value.code == "card_declined"

    tombstone = await entry(sessions, payment.key("authorize"))
    assert tombstone is not None
    assert (tombstone.operation, tombstone.outcome) == ("void", "approved")
    assert tombstone.parent_reference is None
    assert await ledger(sessions, payment) == []  # no authorization, so no hold, ever


async def test_a_void_racing_an_authorization_never_leaves_a_hold(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, SUCCEEDING_CARDS[0])

    outcomes = await asyncio.gather(
        sandbox.authorize(payment.authorize(token)),
        sandbox.void(payment.void()),
        return_exceptions=True,
    )

    authorization, void = outcomes
    assert isinstance(void, VoidResult)
    if isinstance(authorization, BaseException):
        assert isinstance(authorization, GatewayDeclined) and void.reference is None
    else:
        assert void.reference is not None
    assert await holds(sessions, payment) == []


async def test_voiding_a_declined_authorization_has_nothing_to_release(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, DECLINED_CARD)
    with pytest.raises(GatewayDeclined):
        await sandbox.authorize(payment.authorize(token))

    assert await sandbox.void(payment.void()) == VoidResult(None)
    assert [row.operation for row in await ledger(sessions, payment)] == ["authorize"]


async def test_voiding_a_captured_authorization_is_refused_every_time(
    sandbox: SandboxConnector, sessions: Sessions, payment: Payment
) -> None:
    token = await vault(sandbox, SUCCEEDING_CARDS[0])
    authorization = await sandbox.authorize(payment.authorize(token))
    await sandbox.capture(payment.capture(authorization.reference))

    for _ in range(2):
        with pytest.raises(GatewayError) as refused:
            await sandbox.void(payment.void())
        assert refused.value.code == "authorization_captured"
        assert not refused.value.retryable

    voids = [row for row in await ledger(sessions, payment) if row.operation == "void"]
    assert [row.outcome for row in voids] == ["failed"]
