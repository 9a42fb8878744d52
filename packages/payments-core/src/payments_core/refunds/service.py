"""Refunds: created by the API under the payment's row lock, finished by RefundWorkflow.

Refundable = amount - (pending + succeeded refunds), checked while the payment row is locked, so
two concurrent refunds can never together exceed what was captured.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.errors import InvalidRequest, InvalidState, NotFound
from payments_core.events.envelope import Event, EventType
from payments_core.outbox.writer import add_event
from payments_core.payments import transitions
from payments_core.payments.metrics import count_payment, count_refund
from payments_core.payments.models import Payment
from payments_core.payments.status import PaymentStatus
from payments_core.refunds import repository
from payments_core.refunds.models import Refund
from payments_core.refunds.schemas import RefundCreate, RefundOut
from payments_core.refunds.status import RefundStatus

REFUNDABLE = frozenset({PaymentStatus.COMPLETED, PaymentStatus.PARTIALLY_REFUNDED})


def emit(session: AsyncSession, refund: Refund, payment: Payment, event_type: EventType) -> None:
    data = {"refund": RefundOut.of(refund).to_json(), "payment": transitions.payment_json(payment)}
    add_event(session, Event.new(event_type, refund.merchant_id, data))


async def create(
    session: AsyncSession, merchant_id: uuid.UUID, payment_id: uuid.UUID, request: RefundCreate
) -> tuple[Refund, Payment]:
    payment = await transitions.lock(session, payment_id, merchant_id)
    if payment.status not in REFUNDABLE:
        raise InvalidState(
            f"payment {payment.id} is {payment.status}: only completed payments can be refunded",
            code="payment_not_refundable",
        )
    # Refunds apply to what was captured (a partial capture released the rest of the hold).
    remaining = payment.amount_captured - await repository.committed_amount(session, payment.id)
    amount = request.amount if request.amount is not None else remaining
    if amount <= 0 or amount > remaining:
        raise InvalidRequest(
            f"amount {amount} exceeds the {remaining} that remains refundable on this payment",
            param="amount",
            code="amount_too_large",
        )
    refund = Refund(
        payment_id=payment.id,
        merchant_id=merchant_id,
        amount=amount,
        currency=payment.currency,
        reason=request.reason,
    )
    session.add(refund)
    await session.flush()
    emit(session, refund, payment, EventType.REFUND_CREATED)
    count_refund(session, refund)
    return refund, payment


async def get(session: AsyncSession, merchant_id: uuid.UUID, refund_id: uuid.UUID) -> Refund:
    refund = await repository.get_owned(session, merchant_id, refund_id)
    if refund is None:
        raise NotFound(f"no refund with id {refund_id}", param="id")
    return refund


async def succeed(session: AsyncSession, refund_id: uuid.UUID, gateway_reference: str) -> Refund:
    """pending → succeeded; the payment becomes partially_refunded or refunded (events)."""
    refund, payment = await _locked(session, refund_id)
    if refund.status == RefundStatus.SUCCEEDED:
        return refund
    _require_pending(refund)
    refund.status = RefundStatus.SUCCEEDED.value
    refund.gateway_reference = gateway_reference
    refund.updated_at = datetime.now(UTC)
    payment.amount_refunded += refund.amount
    target = (
        PaymentStatus.REFUNDED
        if payment.amount_refunded >= payment.amount_captured
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    payment.status = target.value
    payment.updated_at = refund.updated_at
    emit(session, refund, payment, EventType.REFUND_SUCCEEDED)
    count_refund(session, refund)
    count_payment(session, payment)
    return refund


async def fail(session: AsyncSession, refund_id: uuid.UUID, failure_reason: str) -> Refund:
    refund, payment = await _locked(session, refund_id)
    if refund.status == RefundStatus.FAILED:
        return refund
    _require_pending(refund)
    refund.status = RefundStatus.FAILED.value
    refund.failure_reason = failure_reason
    refund.updated_at = datetime.now(UTC)
    emit(session, refund, payment, EventType.REFUND_FAILED)
    count_refund(session, refund)
    return refund


async def _locked(session: AsyncSession, refund_id: uuid.UUID) -> tuple[Refund, Payment]:
    # Payment first, then refund: the same order as create(), so the two never deadlock.
    unlocked = await session.get(Refund, refund_id)
    if unlocked is None:
        raise NotFound(f"no refund with id {refund_id}", param="id")
    payment = await transitions.lock(session, unlocked.payment_id)
    refund = await repository.lock(session, refund_id)
    assert refund is not None
    return refund, payment


def _require_pending(refund: Refund) -> None:
    if refund.status != RefundStatus.PENDING:
        raise InvalidState(
            f"refund {refund.id} is already {refund.status}", code="refund_invalid_state"
        )
