"""Creating and reading payments. Creation writes the payment and its event in one statement."""

import uuid
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any, NoReturn

import asyncpg
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.connectors import routing
from payments_core.db.after_commit import after_commit
from payments_core.db.columns import utcnow
from payments_core.db.driver import DriverConnection
from payments_core.errors import AlreadyExists, InvalidRequest, NotFound
from payments_core.events.envelope import Event, EventType
from payments_core.idempotency.direct import ResponseToStore
from payments_core.idempotency.service import claim_lost
from payments_core.money import DEFAULT_CURRENCY
from payments_core.payment_methods import repository as payment_methods
from payments_core.payment_methods.types import PaymentMethodType
from payments_core.payments import repository
from payments_core.payments.metrics import payment_status_recorder
from payments_core.payments.models import Payment
from payments_core.payments.references import new_reference
from payments_core.payments.schemas import ConnectorRef, PaymentCreate, PaymentOut
from payments_core.payments.status import CaptureMethod, PaymentStatus
from payments_core.settings import DEFAULT_AUTHORIZATION_TTL_SECONDS

log = structlog.get_logger()

MERCHANT_REFERENCE_CONSTRAINT = "uq_payments_merchant_reference"
# CONTRACT.md: a hold not captured within 7 days (AUTHORIZATION_TTL_SECONDS) is released.
DEFAULT_AUTHORIZATION_TTL = timedelta(seconds=DEFAULT_AUTHORIZATION_TTL_SECONDS)


async def create_on_connection(
    connection: DriverConnection,
    merchant_id: uuid.UUID,
    request: PaymentCreate,
    *,
    supported_currencies: Collection[str],
    respond: Callable[[dict[str, Any]], ResponseToStore],
    on_commit: list[Callable[[], None]],
    authorization_ttl: timedelta = DEFAULT_AUTHORIZATION_TTL,
    mode: str = "test",
    routed: bool = True,
) -> None:
    """Write a pending payment, its `payment.initiated` event and the request's response in one
    statement. `respond` turns the payment (as the API shows it) into the response to store;
    what to count once the statement has committed is appended to `on_commit`. Writes nothing
    and raises IdempotencyClaimLost when the response's claim no longer holds its key."""
    currency = (request.currency or DEFAULT_CURRENCY).upper()
    if currency not in supported_currencies:
        raise InvalidRequest(
            f"currency {currency} is not supported; use one of {', '.join(supported_currencies)}",
            param="currency",
            code="currency_not_supported",
        )
    connector = ConnectorRef()  # the sandbox, for a merchant without connectors (no query)
    if routed:
        connector = await _route(connection, merchant_id, request.payment_method_id, mode)
    now = utcnow()
    payment = PaymentOut(
        id=uuid.uuid4(),
        merchant_id=merchant_id,
        reference=new_reference(),
        merchant_reference=request.reference,
        amount=request.amount,
        currency=currency,
        status=PaymentStatus.PENDING.value,
        description=request.description,
        metadata=request.metadata,
        payment_method_id=request.payment_method_id,
        failure_reason=None,
        gateway_reference=None,
        amount_refunded=0,
        capture_method=request.capture_method.value,
        amount_captured=0,
        # A manual payment's hold lapses this long after creation (AUTHORIZATION_TTL_SECONDS).
        authorization_expires_at=(
            now + authorization_ttl if request.capture_method is CaptureMethod.MANUAL else None
        ),
        next_action=None,
        connector=connector,
        created_at=now,
        updated_at=now,
        completed_at=None,
    )
    data = payment.to_json()
    event = Event.new(EventType.PAYMENT_INITIATED, merchant_id, {"payment": data})
    response = respond(data)
    try:
        inserted = await repository.insert_with_event(
            connection, payment, event, response, return_url=request.return_url
        )
    except asyncpg.UniqueViolationError as error:
        if error.constraint_name == MERCHANT_REFERENCE_CONSTRAINT:
            raise _duplicate_reference(request.reference or "") from None
        raise
    if not inserted.claim_held:
        raise claim_lost(response.key or "")
    if not inserted.payment:
        await _refuse_payment_method(connection, merchant_id, request.payment_method_id)
    on_commit.append(payment_status_recorder(str(payment.id), payment.status, currency, None, now))


async def create(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    request: PaymentCreate,
    *,
    supported_currencies: Collection[str],
    authorization_ttl: timedelta = DEFAULT_AUTHORIZATION_TTL,
) -> Payment:
    """`create_on_connection` for callers holding a session (tests, tools): the same statement
    on the session's connection, inside its transaction when one has begun, committed by itself
    otherwise; counted after the session commits."""
    connection = await (await session.connection()).get_raw_connection()
    created: list[dict[str, Any]] = []

    def respond(payment: dict[str, Any]) -> ResponseToStore:
        created.append(payment)
        return ResponseToStore(None, None, None, 201, "{}")  # no key: nothing stored

    on_commit: list[Callable[[], None]] = []
    await create_on_connection(
        connection.driver_connection,  # type: ignore[arg-type]
        merchant_id,
        request,
        supported_currencies=supported_currencies,
        respond=respond,
        on_commit=on_commit,
        authorization_ttl=authorization_ttl,
    )
    for callback in on_commit:
        after_commit(session, callback)
    payment = await session.get(Payment, uuid.UUID(created[0]["id"]))
    assert payment is not None
    return payment


async def _route(
    connection: DriverConnection, merchant_id: uuid.UUID, method_id: uuid.UUID, mode: str
) -> ConnectorRef:
    """The first of the merchant's connectors (of the API key's mode) holding the card
    (connectors/routing.py); the sandbox when the merchant has none, or for an instrument that
    is no card. A card none of them holds is refused: it would otherwise move pretend money."""
    candidates = await repository.route_candidates(connection, merchant_id, method_id, mode)
    for position, candidate in enumerate(candidates):
        if candidate.tokenized:
            for skipped in candidates[:position]:
                routing.passed_over(
                    skipped.id, skipped.type, routing.NOT_TOKENIZED, next_connector_id=candidate.id
                )
            return ConnectorRef(id=candidate.id, type=candidate.type)
    if (
        candidates
        and await repository.method_type(connection, merchant_id, method_id)
        == PaymentMethodType.CARD
    ):
        raise InvalidRequest(
            "none of your enabled connectors holds this card (it was registered before them, "
            "or they refused it): register the card again",
            param="paymentMethodId",
            code="payment_method_not_routable",
        )
    return ConnectorRef()


async def _refuse_payment_method(
    connection: DriverConnection, merchant_id: uuid.UUID, method_id: uuid.UUID
) -> NoReturn:
    active = await payment_methods.is_active(connection, merchant_id, method_id)
    if active is None:
        raise NotFound(f"no payment method with id {method_id}", param="paymentMethodId")
    raise InvalidRequest(
        f"payment method {method_id} is inactive",
        param="paymentMethodId",
        code="payment_method_inactive",
    )


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
