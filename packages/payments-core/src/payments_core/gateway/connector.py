"""The interface every payment gateway connector implements.

Every money-moving call carries an idempotency key derived from the payment (or refund) and the
step (`<payment id>-authorize`, `-capture`, `-void`, `<refund id>-refund`): a retried call returns
the first call's outcome and never moves money twice. A real provider is one more module
implementing the same protocol; the sandbox (`gateway/sandbox/`) is the default.
"""

from dataclasses import dataclass
from typing import Protocol

from payments_core.secret import Secret

# The platform's own connector: where payments go when the merchant has none of its own.
SANDBOX = "sandbox"


@dataclass(frozen=True, slots=True)
class CardDetails:
    """What a merchant sent; the number and CVC are masked in every repr and log."""

    number: Secret
    exp_month: int
    exp_year: int
    cvc: Secret


@dataclass(frozen=True, slots=True)
class TokenizedCard:
    token: str
    brand: str
    last_four: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    idempotency_key: str
    payment_id: str
    amount: int
    currency: str
    # The vault token of a card; None for instruments without one (bank transfers, wallets).
    token: str | None
    # The customer passed the challenge the gateway asked for (AuthenticationRequired).
    authenticated: bool = False
    # Where a processor hosting its own challenge sends the customer's browser back afterwards.
    return_url: str | None = None
    # Asked again once authenticated: the processor's operation its challenge named, if any.
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    """Take `amount` of the hold (all of it, or less: the rest is released)."""

    idempotency_key: str
    authorization_reference: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class VoidRequest:
    """Void by the authorization's idempotency key, so it works also when the authorization's
    outcome never reached us (a timeout): whatever the gateway did under that key is undone."""

    idempotency_key: str
    authorization_idempotency_key: str
    # The authorization's reference when its answer reached us; a gateway that cannot find an
    # operation by key alone (Stripe: search is eventually consistent) uses it first.
    authorization_reference: str | None = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    idempotency_key: str
    capture_reference: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class GatewayResult:
    """The gateway's reference for the operation (authorization, capture, void, refund)."""

    reference: str


@dataclass(frozen=True, slots=True)
class GatewayRecord:
    """What the gateway did under one idempotency key, as its own books show it (a lookup).

    `operation`: authorize, capture, void or refund. `outcome`: approved, declined or failed (a
    refused capture, void or refund). `reference` is the gateway's id of an approved operation.
    """

    operation: str
    outcome: str
    reference: str | None
    amount: int | None
    decline_code: str | None

    @property
    def approved(self) -> bool:
        return self.outcome == "approved"


@dataclass(frozen=True, slots=True)
class VoidResult:
    # None when the gateway had nothing to void under that key (it never authorized).
    reference: str | None


class GatewayConnector(Protocol):
    name: str

    async def tokenize(self, card: CardDetails) -> TokenizedCard:
        """Vault the card and return a token; raises InvalidRequest for cards it refuses."""
        ...

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        """Hold the amount. Raises GatewayDeclined (final), GatewayUnavailable (retry),
        AuthenticationRequired (nothing held: the customer must authenticate first)."""
        ...

    async def capture(self, request: CaptureRequest) -> GatewayResult:
        """Take the held amount. Raises CaptureFailed (final), GatewayUnavailable (retry)."""
        ...

    async def void(self, request: VoidRequest) -> VoidResult:
        """Release whatever was authorized under the key; safe to repeat."""
        ...

    async def refund(self, request: RefundRequest) -> GatewayResult:
        """Return (part of) a captured amount. Raises RefundFailed (final), GatewayUnavailable."""
        ...

    async def lookup(self, idempotency_key: str) -> GatewayRecord | None:
        """What the gateway did under the key, None when nothing reached it; moves no money.
        The reconciler's question when an answer was lost (as Stripe's retrieve is)."""
        ...
