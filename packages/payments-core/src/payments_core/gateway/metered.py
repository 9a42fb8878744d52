"""A connector wrapper that times every gateway call by operation and outcome.

Outcomes: `success`; `declined` for a final answer of the gateway (declines, refused captures,
voids and refunds, refused cards); `timeout` and `unavailable` for transient failures; `error` for
anything else (our own failures included). Works for any connector behind the protocol.
"""

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from payments_core.errors import InvalidRequest
from payments_core.gateway.connector import (
    AuthorizeRequest,
    CaptureRequest,
    CardDetails,
    GatewayConnector,
    GatewayRecord,
    GatewayResult,
    RefundRequest,
    TokenizedCard,
    VoidRequest,
    VoidResult,
)
from payments_core.gateway.errors import GatewayError, GatewayTimeout, GatewayUnavailable
from payments_core.telemetry.metrics import GATEWAY_CALL_DURATION

T = TypeVar("T")


class MeteredConnector:
    def __init__(self, inner: GatewayConnector) -> None:
        self._inner = inner
        self.name = inner.name

    async def tokenize(self, card: CardDetails) -> TokenizedCard:
        return await self._timed("tokenize", lambda: self._inner.tokenize(card))

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        return await self._timed("authorize", lambda: self._inner.authorize(request))

    async def capture(self, request: CaptureRequest) -> GatewayResult:
        return await self._timed("capture", lambda: self._inner.capture(request))

    async def void(self, request: VoidRequest) -> VoidResult:
        return await self._timed("void", lambda: self._inner.void(request))

    async def refund(self, request: RefundRequest) -> GatewayResult:
        return await self._timed("refund", lambda: self._inner.refund(request))

    async def lookup(self, idempotency_key: str) -> GatewayRecord | None:
        return await self._timed("lookup", lambda: self._inner.lookup(idempotency_key))

    async def _timed(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        began = time.perf_counter()
        outcome = "error"
        try:
            result = await call()
            outcome = "success"
            return result
        except Exception as error:
            outcome = _outcome(error)
            raise
        finally:
            GATEWAY_CALL_DURATION.labels(
                gateway=self.name, operation=operation, outcome=outcome
            ).observe(time.perf_counter() - began)


def _outcome(error: Exception) -> str:
    if isinstance(error, GatewayTimeout | TimeoutError):
        return "timeout"
    if isinstance(error, GatewayUnavailable):
        return "unavailable"
    if isinstance(error, GatewayError | InvalidRequest):
        return "declined"
    return "error"
