"""The interface every payment gateway connector implements.

This issue needs only tokenization; authorize, capture, void and refund join the interface with
the payment pipeline. A real provider is one more module implementing the same protocol.
"""

from dataclasses import dataclass
from typing import Protocol

from payments_core.secret import Secret


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


class GatewayConnector(Protocol):
    name: str

    def accepts_test_cards_only(self) -> bool:
        """True for a sandbox: only its published test numbers are accepted."""
        ...

    async def tokenize(self, card: CardDetails) -> TokenizedCard:
        """Vault the card and return a token; raises InvalidRequest for cards it refuses."""
        ...
