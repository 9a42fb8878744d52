"""Every change of a payment's status after creation, each with its outbox event, in the
caller's transaction. Illegal transitions raise InvalidState; repeating a transition that already
happened is a no-op (activities are retried at least once), so callers may simply call again.

Every function locks the payment row (`FOR UPDATE`), which serializes the worker's steps with the
API's cancel and refunds: a cancel can never slip in between "no charge yet" and "authorizing".
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from payments_core.errors import InvalidState, NotFound
from payments_core.events.envelope import Event, EventType
from payments_core.outbox.writer import add_event
from payments_core.payments.metrics import count_payment
from payments_core.payments.models import Payment
from payments_core.payments.schemas import PaymentOut
from payments_core.payments.status import PaymentStatus, PaymentStep, can_step, can_transition

CANCELLABLE = frozenset({PaymentStatus.PENDING, PaymentStatus.PROCESSING})


async def lock(
    session: AsyncSession, payment_id: uuid.UUID, merchant_id: uuid.UUID | None = None
) -> Payment:
    # populate_existing: what the lock returns must overwrite anything read before it; so first
    # flush this session's own pending changes, or the re-read would silently drop them.
    await session.flush()
    statement = (
        select(Payment)
        .where(col(Payment.id) == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if merchant_id is not None:
        statement = statement.where(col(Payment.merchant_id) == merchant_id)
    payment = (await session.execute(statement)).scalar_one_or_none()
    if payment is None:
        raise NotFound(f"no payment with id {payment_id}", param="id")
    return payment


def emit(session: AsyncSession, payment: Payment, event_type: EventType) -> None:
    add_event(
        session, Event.new(event_type, payment.merchant_id, {"payment": payment_json(payment)})
    )


def payment_json(payment: Payment) -> dict[str, object]:
    return PaymentOut.of(payment).to_json()


def _move(payment: Payment, target: PaymentStatus) -> None:
    current = PaymentStatus(payment.status)
    if not can_transition(current, target):
        raise InvalidState(
            f"payment {payment.id} is {current.value} and cannot become {target.value}",
            code="payment_invalid_state",
        )
    payment.status = target.value
    payment.updated_at = datetime.now(UTC)


async def start_processing(session: AsyncSession, payment_id: uuid.UUID) -> Payment:
    """pending → processing (emits payment.processing). Returns the payment as it is now, which
    the caller inspects: a cancelled or already finished payment is left alone."""
    payment = await lock(session, payment_id)
    if payment.status == PaymentStatus.PENDING:
        _move(payment, PaymentStatus.PROCESSING)
        emit(session, payment, EventType.PAYMENT_PROCESSING)
        count_payment(session, payment)
    return payment


async def begin_step(session: AsyncSession, payment_id: uuid.UUID, step: PaymentStep) -> Payment:
    """Record that gateway work `step` starts, if the payment is still processing and `step` may
    follow its current one (`STEP_TRANSITIONS`, or is it already: a retry). Else InvalidState."""
    payment = await lock(session, payment_id)
    enter_step(payment, step)
    return payment


def enter_step(payment: Payment, step: PaymentStep) -> None:
    """`begin_step` on a payment the caller has already locked (`lock`) in this transaction."""
    _require_step(payment, step)
    payment.processing_step = step.value
    payment.updated_at = datetime.now(UTC)


def _require_step(payment: Payment, step: PaymentStep) -> None:
    if payment.status != PaymentStatus.PROCESSING or not can_step(payment.processing_step, step):
        raise InvalidState(
            f"payment {payment.id} is {payment.status} at step {payment.processing_step}"
            f" and cannot go to step {step.value}",
            code="payment_invalid_state",
        )


async def record_authorization(
    session: AsyncSession, payment_id: uuid.UUID, gateway_reference: str
) -> Payment:
    return await _record_step(
        session, payment_id, PaymentStep.AUTHORIZED, gateway_reference=gateway_reference
    )


async def record_capture(
    session: AsyncSession, payment_id: uuid.UUID, capture_reference: str
) -> Payment:
    return await _record_step(
        session, payment_id, PaymentStep.CAPTURED, capture_reference=capture_reference
    )


async def record_void(session: AsyncSession, payment_id: uuid.UUID) -> Payment:
    return await _record_step(session, payment_id, PaymentStep.VOIDED)


async def _record_step(
    session: AsyncSession, payment_id: uuid.UUID, step: PaymentStep, **references: str
) -> Payment:
    """Gateway work `step` finished: note it, with the gateway's references. A late attempt of an
    activity the workflow already gave up on (its timeout passed) is refused: it must not move
    the step back, e.g. record an authorization over a capture."""
    payment = await lock(session, payment_id)
    _require_step(payment, step)
    for name, value in references.items():
        setattr(payment, name, value)
    payment.processing_step = step.value
    payment.updated_at = datetime.now(UTC)
    return payment


async def complete(session: AsyncSession, payment_id: uuid.UUID) -> Payment:
    """processing → completed (emits payment.completed); idempotent."""
    payment = await lock(session, payment_id)
    if payment.status == PaymentStatus.COMPLETED:
        return payment
    _move(payment, PaymentStatus.COMPLETED)
    payment.completed_at = payment.updated_at
    emit(session, payment, EventType.PAYMENT_COMPLETED)
    count_payment(session, payment)
    return payment


async def fail(session: AsyncSession, payment_id: uuid.UUID, failure_reason: str) -> Payment:
    """pending/processing → failed with the contract's failureReason (emits payment.failed)."""
    payment = await lock(session, payment_id)
    if payment.status == PaymentStatus.FAILED:
        return payment
    if payment.processing_step == PaymentStep.CAPTURED:
        # The money moved: failing it would part our books from the gateway's.
        raise InvalidState(
            f"payment {payment.id} was captured and cannot fail", code="payment_captured"
        )
    _move(payment, PaymentStatus.FAILED)
    payment.failure_reason = failure_reason
    emit(session, payment, EventType.PAYMENT_FAILED)
    count_payment(session, payment)
    return payment


async def cancel(
    session: AsyncSession, payment_id: uuid.UUID, merchant_id: uuid.UUID | None = None
) -> Payment:
    """Cancel before any charge was attempted (emits payment.cancelled); 409 once it was."""
    payment = await lock(session, payment_id, merchant_id)
    if payment.status == PaymentStatus.CANCELLED:
        return payment
    if payment.status not in CANCELLABLE or payment.processing_step is not None:
        raise InvalidState(
            f"payment {payment.id} can no longer be cancelled: it is {payment.status}"
            + (f" (step {payment.processing_step})" if payment.processing_step else ""),
            code="payment_not_cancellable",
        )
    _move(payment, PaymentStatus.CANCELLED)
    emit(session, payment, EventType.PAYMENT_CANCELLED)
    count_payment(session, payment)
    return payment
