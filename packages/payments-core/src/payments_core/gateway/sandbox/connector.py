"""The sandbox connector: behaves like an acquirer, with its vault and ledger in PostgreSQL.

Each call commits in its own transactions, independent of the caller's, as a real provider's
would: what the acquirer did stays done even when the caller rolls back or never hears back.
"""

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.gateway.connector import (
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


class SandboxConnector:
    name = "sandbox"

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        latency_ms: int = 0,
        answer_timeout_seconds: float = 2.0,
    ) -> None:
        self._sessions = session_factory
        # Simulated network round trip before every call (SANDBOX_LATENCY_MS).
        self._latency_seconds = latency_ms / 1000
        # How long the "never answers" card keeps the caller waiting before the timeout.
        self._answer_timeout_seconds = answer_timeout_seconds

    async def tokenize(self, card: CardDetails) -> TokenizedCard:
        await self._network()
        return await vault_card(self._sessions, card)

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        await self._network()
        return await authorize(
            self._sessions, request, answer_timeout_seconds=self._answer_timeout_seconds
        )

    async def capture(self, request: CaptureRequest) -> GatewayResult:
        await self._network()
        return await capture(self._sessions, request)

    async def void(self, request: VoidRequest) -> VoidResult:
        await self._network()
        return await void(self._sessions, request)

    async def refund(self, request: RefundRequest) -> GatewayResult:
        await self._network()
        return await refund(
            self._sessions, request, answer_timeout_seconds=self._answer_timeout_seconds
        )

    async def lookup(self, idempotency_key: str) -> GatewayRecord | None:
        await self._network()
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

    async def _network(self) -> None:
        if self._latency_seconds > 0:
            await asyncio.sleep(self._latency_seconds)
