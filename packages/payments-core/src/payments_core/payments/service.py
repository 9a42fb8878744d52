"""Creating and reading payments. Creation writes the payment and its event in one transaction."""

import uuid
from collections.abc import Collection

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.errors import AlreadyExists, InvalidRequest, NotFound
from payments_core.events.envelope import Event, EventType
from payments_core.money import DEFAULT_CURRENCY
from payments_core.outbox.writer import add_event
from payments_core.payment_methods import repository as payment_methods
from payments_core.payments import repository
from payments_core.payments.metrics import count_payment
from payments_core.payments.models import Payment
from payments_core.payments.references import new_reference
from payments_core.payments.schemas import PaymentCreate, PaymentOut


async def create(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    request: PaymentCreate,
    *,
    supported_currencies: Collection[str],
) -> Payment:
    currency = (request.currency or DEFAULT_CURRENCY).upper()
    if currency not in supported_currencies:
        raise InvalidRequest(
            f"currency {currency} is not supported; use one of {', '.join(supported_currencies)}",
            param="currency",
            code="currency_not_supported",
        )
    method = await payment_methods.get_owned(session, merchant_id, request.payment_method_id)
    if method is None:
        raise NotFound(
            f"no payment method with id {request.payment_method_id}", param="paymentMethodId"
        )
    if not method.is_active:
        raise InvalidRequest(
            f"payment method {method.id} is inactive",
            param="paymentMethodId",
            code="payment_method_inactive",
        )
    if request.reference and await repository.merchant_reference_taken(
        session, merchant_id, request.reference
    ):
        raise _duplicate_reference(request.reference)

    payment = Payment(
        merchant_id=merchant_id,
        payment_method_id=method.id,
        reference=new_reference(),
        merchant_reference=request.reference,
        amount=request.amount,
        currency=currency,
        description=request.description,
        metadata_=request.metadata,
    )
    session.add(payment)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent request took the same merchant reference
        raise _duplicate_reference(request.reference or "") from None
    event = Event.new(
        EventType.PAYMENT_INITIATED, merchant_id, {"payment": PaymentOut.of(payment).to_json()}
    )
    add_event(session, event)
    count_payment(session, payment)
    return payment


async def get(session: AsyncSession, merchant_id: uuid.UUID, payment_id: uuid.UUID) -> Payment:
    payment = await repository.get_owned(session, merchant_id, payment_id)
    if payment is None:
        raise NotFound(f"no payment with id {payment_id}", param="id")
    return payment


async def get_by_reference(
    session: AsyncSession, merchant_id: uuid.UUID, reference: str
) -> Payment:
    # A NUL cannot be stored, so no payment has it: answer as for any unknown reference.
    payment = (
        None
        if "\x00" in reference
        else await repository.get_by_reference(session, merchant_id, reference)
    )
    if payment is None:
        raise NotFound(f"no payment with reference {reference[:64]!r}", param="reference")
    return payment


def _duplicate_reference(reference: str) -> AlreadyExists:
    return AlreadyExists(f"a payment with reference {reference} already exists", param="reference")
