"""Registering payment methods: cards are checked, then tokenized by the gateway connector."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.errors import InvalidRequest, NotFound
from payments_core.gateway.cards import is_expired, luhn_valid
from payments_core.gateway.connector import CardDetails, GatewayConnector
from payments_core.payment_methods import repository
from payments_core.payment_methods.models import PaymentMethod
from payments_core.payment_methods.schemas import CardInput, PaymentMethodCreate
from payments_core.secret import Secret


async def register(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    request: PaymentMethodCreate,
    connector: GatewayConnector,
) -> PaymentMethod:
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
    return method


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
