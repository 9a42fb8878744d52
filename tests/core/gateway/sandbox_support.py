"""Helpers for the sandbox connector tests: one payment's requests, keyed as the pipeline does."""

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.session import transaction
from payments_core.gateway.connector import (
    AuthorizeRequest,
    CaptureRequest,
    CardDetails,
    GatewayConnector,
    RefundRequest,
    VoidRequest,
)
from payments_core.gateway.models import SandboxLedgerEntry
from payments_core.gateway.sandbox.ledger import entry_for_key, ledger_for_payment, open_holds
from payments_core.secret import Secret

SUCCEEDING_CARDS = ("4242424242424242", "5555555555554444", "5060666666666666666")
DECLINED_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
TRANSIENT_CARD = "4000000000000119"
CAPTURE_FAILS_CARD = "4000000000000259"
TIMEOUT_CARD = "4000000000000341"

AMOUNT = 5_000
CURRENCY = "NGN"


async def vault(sandbox: GatewayConnector, number: str) -> str:
    card = CardDetails(Secret(number), exp_month=12, exp_year=2035, cvc=Secret("123"))
    return (await sandbox.tokenize(card)).token


@dataclass(frozen=True)
class Payment:
    """A payment of one test alone (a fresh id), so tests never see each other's ledger rows."""

    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def key(self, step: str) -> str:
        return f"{self.id}-{step}"

    def authorize(self, token: str | None, amount: int = AMOUNT) -> AuthorizeRequest:
        return AuthorizeRequest(self.key("authorize"), self.id, amount, CURRENCY, token)

    def capture(
        self, authorization: str, amount: int = AMOUNT, step: str = "capture"
    ) -> CaptureRequest:
        return CaptureRequest(self.key(step), authorization, amount, CURRENCY)

    def void(self, step: str = "void") -> VoidRequest:
        return VoidRequest(self.key(step), self.key("authorize"))

    def refund(self, capture: str, amount: int, step: str = "refund") -> RefundRequest:
        return RefundRequest(self.key(step), capture, amount, CURRENCY)


Sessions = async_sessionmaker[AsyncSession]


async def ledger(sessions: Sessions, payment: Payment) -> list[SandboxLedgerEntry]:
    async with transaction(sessions) as session:
        return await ledger_for_payment(session, payment.id)


async def holds(sessions: Sessions, payment: Payment) -> list[SandboxLedgerEntry]:
    async with transaction(sessions) as session:
        return await open_holds(session, payment.id)


async def entry(sessions: Sessions, key: str) -> SandboxLedgerEntry | None:
    async with transaction(sessions) as session:
        return await entry_for_key(session, key)
