"""SANDBOX_LATENCY_MS: every operation waits at least the configured latency first."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from payments_core.gateway.sandbox import SandboxConnector
from payments_core.gateway.sandbox.ledger import entry_for_key
from tests.core.gateway.sandbox_support import SUCCEEDING_CARDS, Payment, Sessions, vault

LATENCY_MS = 120

T = TypeVar("T")


async def timed(call: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    started = time.monotonic()
    result = await call()
    return result, time.monotonic() - started


async def test_every_operation_waits_at_least_the_latency(
    sessions: Sessions, payment: Payment
) -> None:
    sandbox = SandboxConnector(sessions, latency_ms=LATENCY_MS)
    at_least = LATENCY_MS / 1000
    # Only lower bounds: an upper bound on wall time would fail on a busy machine.

    token, elapsed = await timed(lambda: vault(sandbox, SUCCEEDING_CARDS[0]))
    assert elapsed >= at_least
    authorization, elapsed = await timed(lambda: sandbox.authorize(payment.authorize(token)))
    assert elapsed >= at_least
    capture, elapsed = await timed(
        lambda: sandbox.capture(payment.capture(authorization.reference))
    )
    assert elapsed >= at_least
    _, elapsed = await timed(lambda: sandbox.refund(payment.refund(capture.reference, 100)))
    assert elapsed >= at_least
    # A void of another payment: this one's capture can no longer be voided.
    _, elapsed = await timed(lambda: sandbox.void(Payment().void()))
    assert elapsed >= at_least


async def test_the_answer_travels_back_after_the_acquirer_acted(
    sessions: Sessions, payment: Payment
) -> None:
    # Half the latency on the way back: an answer can be lost after the money moved, which the
    # chaos run's "SIGKILL worker between a capture and its record" fault relies on.
    sandbox = SandboxConnector(sessions, latency_ms=4_000)
    token = await vault(SandboxConnector(sessions), SUCCEEDING_CARDS[0])
    authorization = await SandboxConnector(sessions).authorize(payment.authorize(token))
    request = payment.capture(authorization.reference)
    capturing = asyncio.create_task(sandbox.capture(request))
    recorded = await _recorded(sessions, request.idempotency_key)
    await asyncio.sleep(0.2)  # far less than the 2 s way back, far more than a bare answer takes
    assert not capturing.done(), "answered together with the capture: no answer to lose"
    assert (await capturing).reference == recorded


async def _recorded(sessions: Sessions, key: str) -> str | None:
    """The acquirer's reference once its ledger row under `key` is committed."""
    async with asyncio.timeout(30):
        while True:
            async with sessions() as session:
                entry = await entry_for_key(session, key)
            if entry is not None:
                return entry.reference
            await asyncio.sleep(0.01)
