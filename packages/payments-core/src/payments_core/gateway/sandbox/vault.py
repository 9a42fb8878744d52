"""The sandbox's card vault: which test scenario a token plays, never the number or the CVC.

It accepts only the contract's test cards (CONTRACT.md, "Sandbox gateway test cards").
"""

import secrets

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.session import transaction
from payments_core.errors import InvalidRequest
from payments_core.gateway.cards import card_brand
from payments_core.gateway.connector import CardDetails, TokenizedCard
from payments_core.gateway.models import SandboxCard
from payments_core.gateway.test_cards import TEST_CARDS, CardBehaviour


async def vault_card(
    sessions: async_sessionmaker[AsyncSession], card: CardDetails
) -> TokenizedCard:
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
    async with transaction(sessions) as session:
        session.add(vaulted)
    return TokenizedCard(
        vaulted.token, vaulted.brand, vaulted.last_four, card.exp_month, card.exp_year
    )


async def behaviour_of(session: AsyncSession, token: str | None) -> CardBehaviour:
    """What the instrument behind `token` does. No token, or one the vault does not know, is an
    instrument without a card (bank transfer, wallet, a merchant's own token): it succeeds."""
    if token is None:
        return CardBehaviour.SUCCEED
    card = await session.get(SandboxCard, token)
    return CardBehaviour.SUCCEED if card is None else CardBehaviour(card.behaviour)
