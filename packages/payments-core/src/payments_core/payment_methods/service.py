"""Registering payment methods: cards are checked, then tokenized by the sandbox and by each of
the merchant's connectors (the number goes to their vaults, never to our database)."""

import asyncio
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.connectors import routing
from payments_core.connectors.gateways import Gateways
from payments_core.connectors.models import Connector, ConnectorToken
from payments_core.errors import InvalidRequest, NotFound
from payments_core.gateway.cards import is_expired, luhn_valid
from payments_core.gateway.connector import CardDetails, TokenizedCard
from payments_core.gateway.errors import GatewayError
from payments_core.payment_methods import repository
from payments_core.payment_methods.models import PaymentMethod
from payments_core.payment_methods.schemas import CardInput, PaymentMethodCreate
from payments_core.secret import Secret

log = structlog.get_logger()


async def register(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    request: PaymentMethodCreate,
    gateways: Gateways,
    *,
    mode: str = "test",
) -> PaymentMethod:
    """A card is checked, vaulted by the sandbox (which always can take it), then sent to each
    of the merchant's enabled connectors of the key's mode, whose tokens are kept: payments
    route only to connectors holding one. A connector that refuses the card or cannot be
    reached is left without one (a log line says so); the card is still registered."""
    connector = gateways.sandbox
    method = PaymentMethod(
        merchant_id=merchant_id,
        type=request.type.value,
        provider=request.provider,
        last_four=request.last_four,
        account_last_four=request.account_number[-4:] if request.account_number else None,
        bank_code=request.bank_code,
        bank_name=request.bank_name,
        metadata_=request.metadata,
    )
    if request.card is not None:
        tokenized = await connector.tokenize(_checked_card(request.card))
        method.provider = request.provider or connector.name
        method.gateway_token = tokenized.token
        method.brand = tokenized.brand
        method.last_four = tokenized.last_four
        method.exp_month = tokenized.exp_month
        method.exp_year = tokenized.exp_year
    session.add(method)
    await session.flush()
    if request.card is not None:
        await _tokenize_at_connectors(session, method, _checked_card(request.card), gateways, mode)
    return method


async def _tokenize_at_connectors(
    session: AsyncSession, method: PaymentMethod, card: CardDetails, gateways: Gateways, mode: str
) -> None:
    connectors = await routing.routable(session, method.merchant_id, mode)

    async def tokenize(connector: Connector) -> TokenizedCard | None:
        try:
            return await (await gateways.of(connector)).tokenize(card)
        except (GatewayError, InvalidRequest, LookupError) as error:
            # LookupError: this process cannot open connectors (a tool seeding the sandbox).
            reason = error.code if isinstance(error, GatewayError | InvalidRequest) else "closed"
            log.warning(
                "payment_method.not_tokenized",
                payment_method_id=str(method.id),
                connector_id=str(connector.id),
                gateway=connector.type,
                reason=reason,
            )
            return None

    tokens = await asyncio.gather(*(tokenize(connector) for connector in connectors))
    for connector, tokenized in zip(connectors, tokens, strict=True):
        if tokenized is not None:
            session.add(
                ConnectorToken(
                    payment_method_id=method.id, connector_id=connector.id, token=tokenized.token
                )
            )
    await session.flush()


def _checked_card(card: CardInput) -> CardDetails:
    number = card.number.get_secret_value()
    if not luhn_valid(number):
        raise InvalidRequest(
            "card.number is not a valid card number", param="card.number", code="invalid_number"
        )
    if is_expired(card.exp_month, card.exp_year):
        raise InvalidRequest("the card has expired", param="card.expYear", code="expired_card")
    return CardDetails(
        Secret(number), card.exp_month, card.exp_year, Secret(card.cvc.get_secret_value())
    )


async def get(session: AsyncSession, merchant_id: uuid.UUID, method_id: uuid.UUID) -> PaymentMethod:
    method = await repository.get_owned(session, merchant_id, method_id)
    if method is None:
        raise NotFound(f"no payment method with id {method_id}", param="id")
    return method


async def deactivate(
    session: AsyncSession, merchant_id: uuid.UUID, method_id: uuid.UUID
) -> PaymentMethod:
    method = await repository.get_owned(session, merchant_id, method_id, for_update=True)
    if method is None:
        raise NotFound(f"no payment method with id {method_id}", param="id")
    method.is_active = False
    await session.flush()
    return method
