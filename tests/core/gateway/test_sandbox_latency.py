"""SANDBOX_LATENCY_MS: every operation waits at least the configured latency first."""

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from payments_core.gateway.sandbox import SandboxConnector
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
