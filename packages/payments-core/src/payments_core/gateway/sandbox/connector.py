"""The sandbox connector: behaves like an acquirer, with its vault and ledger in PostgreSQL.

Each call commits in its own transactions, independent of the caller's, as a real provider's
would: what the acquirer did stays done even when the caller rolls back or never hears back.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.gateway.connector import (
    SANDBOX,
    AuthorizeRequest,
    CaptureRequest,
    CardDetails,
    GatewayRecord,
    GatewayResult,
    RefundRequest,
    TokenizedCard,
    VoidRequest,
    VoidResult,
)
from payments_core.gateway.sandbox.authorization import authorize
from payments_core.gateway.sandbox.capture import capture
from payments_core.gateway.sandbox.entries import find_by_key
from payments_core.gateway.sandbox.refund import refund
from payments_core.gateway.sandbox.vault import vault_card
from payments_core.gateway.sandbox.void import void

T = TypeVar("T")


class SandboxConnector:
    name = SANDBOX

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        latency_ms: int = 0,
        answer_timeout_seconds: float = 2.0,
    ) -> None:
        self._sessions = session_factory
        # Simulated network round trip of every call (SANDBOX_LATENCY_MS): half on the way
        # there, half on the way back, so an answer can be lost after the acquirer acted.
        self._one_way_seconds = latency_ms / 2000
        # How long the "never answers" card keeps the caller waiting before the timeout.
        self._answer_timeout_seconds = answer_timeout_seconds

    async def tokenize(self, card: CardDetails) -> TokenizedCard:
        return await self._round_trip(vault_card(self._sessions, card))

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        return await self._round_trip(
            authorize(self._sessions, request, answer_timeout_seconds=self._answer_timeout_seconds)
        )

    async def capture(self, request: CaptureRequest) -> GatewayResult:
        return await self._round_trip(capture(self._sessions, request))

    async def void(self, request: VoidRequest) -> VoidResult:
        return await self._round_trip(void(self._sessions, request))

    async def refund(self, request: RefundRequest) -> GatewayResult:
        return await self._round_trip(
            refund(self._sessions, request, answer_timeout_seconds=self._answer_timeout_seconds)
        )

    async def lookup(self, idempotency_key: str) -> GatewayRecord | None:
        return await self._round_trip(self._lookup(idempotency_key))

    async def _lookup(self, idempotency_key: str) -> GatewayRecord | None:
        async with self._sessions() as session:
            entry = await find_by_key(session, idempotency_key)
        if entry is None:
            return None
        return GatewayRecord(
            operation=entry.operation,
            outcome=entry.outcome,
            reference=entry.reference,
            amount=entry.amount,
            decline_code=entry.decline_code,
        )

    async def _round_trip(self, call: Coroutine[Any, Any, T]) -> T:
        """The request travels, the acquirer acts, the answer (or error) travels back."""
        if self._one_way_seconds <= 0:
            return await call
        await asyncio.sleep(self._one_way_seconds)
        try:
            result = await call
        except Exception:
            await asyncio.sleep(self._one_way_seconds)
            raise
        await asyncio.sleep(self._one_way_seconds)
        return result
