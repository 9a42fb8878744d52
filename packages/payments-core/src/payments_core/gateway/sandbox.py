"""The sandbox connector: behaves like an acquirer with a vault of its own in PostgreSQL.

It accepts only the contract's test cards, and its vault stores which test scenario a token
plays, the brand and the last four: never the number or the CVC.
"""

import secrets

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.session import transaction
from payments_core.errors import InvalidRequest
from payments_core.gateway.cards import card_brand
from payments_core.gateway.connector import CardDetails, TokenizedCard
from payments_core.gateway.models import SandboxCard
from payments_core.gateway.test_cards import TEST_CARDS


class SandboxConnector:
    name = "sandbox"

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        # The vault is the gateway's own store: it commits independently of our transaction,
        # as a real provider's would.
        self._session_factory = session_factory

    def accepts_test_cards_only(self) -> bool:
        return True

    async def tokenize(self, card: CardDetails) -> TokenizedCard:
        number = card.number.reveal()
        behaviour = TEST_CARDS.get(number)
        if behaviour is None:
            raise InvalidRequest(
                "test mode accepts only the sandbox test card numbers",
                param="card.number",
                code="card_not_test_number",
            )
        vaulted = SandboxCard(
            token=f"tok_sandbox_{secrets.token_hex(12)}",
            brand=card_brand(number),
            last_four=number[-4:],
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            behaviour=behaviour.value,
        )
        async with transaction(self._session_factory) as session:
            session.add(vaulted)
        return TokenizedCard(
            vaulted.token, vaulted.brand, vaulted.last_four, card.exp_month, card.exp_year
        )
