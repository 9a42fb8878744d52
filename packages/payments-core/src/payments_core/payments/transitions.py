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

from payments_core.errors import InvalidRequest, InvalidState, NotFound
from payments_core.events.envelope import Event, EventType
from payments_core.outbox.writer import add_event
from payments_core.payments.metrics import count_payment
from payments_core.payments.models import Payment
from payments_core.payments.schemas import PaymentOut
from payments_core.payments.status import (
    IN_FLIGHT,
    CaptureMethod,
    HoldDecision,
    PaymentStatus,
    PaymentStep,
    can_step,
    can_transition,
)

# Cancelled at once: nothing is held (no gateway step yet, or only an authentication asked for).
CANCELLABLE = frozenset(
    {PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION}
)
NOTHING_HELD_STEPS = frozenset({None, PaymentStep.AUTHENTICATING.value})


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


def move(payment: Payment, target: PaymentStatus) -> None:
    current = PaymentStatus(payment.status)
    if not can_transition(current, target):
        raise InvalidState(
            f"payment {payment.id} is {current.value} and cannot become {target.value}",
            code="payment_invalid_state",
        )
    if current == PaymentStatus.REQUIRES_ACTION:
        # However the challenge ended (answered, timed out, cancelled, failed), its link, the
        # token in clear, goes: only the hash stays.
        payment.next_action = None
    payment.status = target.value
    payment.updated_at = datetime.now(UTC)


def enter(
    session: AsyncSession, payment: Payment, target: PaymentStatus, event_type: EventType
) -> None:
    """`move` a locked payment to `target`, with its event and its count."""
    move(payment, target)
    emit(session, payment, event_type)
    count_payment(session, payment)


async def start_processing(session: AsyncSession, payment_id: uuid.UUID) -> Payment:
    """pending → processing (emits payment.processing). Returns the payment as it is now, which
    the caller inspects: a cancelled or already finished payment is left alone."""
    payment = await lock(session, payment_id)
    if payment.status == PaymentStatus.PENDING:
        enter(session, payment, PaymentStatus.PROCESSING, EventType.PAYMENT_PROCESSING)
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
    if payment.status not in IN_FLIGHT or not can_step(payment.processing_step, step):
        raise InvalidState(
            f"payment {payment.id} is {payment.status} at step {payment.processing_step}"
            f" and cannot go to step {step.value}",
            code="payment_invalid_state",
        )


async def record_authorization(
    session: AsyncSession, payment_id: uuid.UUID, gateway_reference: str
) -> Payment:
    """The gateway holds the money. A manual payment becomes `authorized` (payment.authorized)
    in the same transaction: from here the merchant may capture or cancel it."""
    payment = await _record_step(
        session, payment_id, PaymentStep.AUTHORIZED, gateway_reference=gateway_reference
    )
    manual = payment.capture_method == CaptureMethod.MANUAL
    if manual and payment.status == PaymentStatus.PROCESSING:
        enter(session, payment, PaymentStatus.AUTHORIZED, EventType.PAYMENT_AUTHORIZED)
    return payment


async def record_capture(
    session: AsyncSession, payment_id: uuid.UUID, capture_reference: str, amount: int
) -> Payment:
    """The gateway took `amount` (all of it, or a manual payment's partial capture)."""
    payment = await _record_step(
        session, payment_id, PaymentStep.CAPTURED, capture_reference=capture_reference
    )
    payment.amount_captured = amount
    return payment


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
    """processing or authorized → completed (emits payment.completed); idempotent."""
    return complete_locked(session, await lock(session, payment_id))


def complete_locked(session: AsyncSession, payment: Payment) -> Payment:
    """`complete` on a payment the caller has already locked in this transaction."""
    if payment.status == PaymentStatus.COMPLETED:
        return payment
    move(payment, PaymentStatus.COMPLETED)
    if payment.amount_captured == 0:  # completed without a recorded capture amount: all of it
        payment.amount_captured = payment.amount_to_capture or payment.amount
    payment.completed_at = payment.updated_at
    emit(session, payment, EventType.PAYMENT_COMPLETED)
    count_payment(session, payment)
    return payment


async def fail(session: AsyncSession, payment_id: uuid.UUID, failure_reason: str) -> Payment:
    """Not final → failed with the contract's failureReason (emits payment.failed)."""
    return fail_locked(session, await lock(session, payment_id), failure_reason)


def fail_locked(session: AsyncSession, payment: Payment, failure_reason: str) -> Payment:
    """`fail` on a payment the caller has already locked in this transaction."""
    if payment.status == PaymentStatus.FAILED:
        return payment
    if payment.processing_step == PaymentStep.CAPTURED:
        # The money moved: failing it would part our books from the gateway's.
        raise InvalidState(
            f"payment {payment.id} was captured and cannot fail", code="payment_captured"
        )
    move(payment, PaymentStatus.FAILED)
    payment.failure_reason = failure_reason
    emit(session, payment, EventType.PAYMENT_FAILED)
    count_payment(session, payment)
    return payment


async def cancel(
    session: AsyncSession, payment_id: uuid.UUID, merchant_id: uuid.UUID | None = None
) -> Payment:
    """Cancel before any charge was attempted (emits payment.cancelled); 409 once it was.

    An `authorized` payment is not cancelled here but decided (`decide_hold`): it is returned
    still `authorized`, with hold_decision `cancel`, and its workflow voids the hold, then
    `release`s it as cancelled. The caller tells the workflow (the API's hold_decided update)."""
    payment = await lock(session, payment_id, merchant_id)
    if payment.status == PaymentStatus.CANCELLED:
        return payment
    if payment.status == PaymentStatus.AUTHORIZED:
        return decide_hold(payment, HoldDecision.CANCEL)
    if payment.status not in CANCELLABLE or payment.processing_step not in NOTHING_HELD_STEPS:
        raise InvalidState(
            f"payment {payment.id} can no longer be cancelled: it is {payment.status}"
            + (f" (step {payment.processing_step})" if payment.processing_step else ""),
            code="payment_not_cancellable",
        )
    enter(session, payment, PaymentStatus.CANCELLED, EventType.PAYMENT_CANCELLED)
    return payment


def decide_hold(payment: Payment, decision: HoldDecision, amount: int | None = None) -> Payment:
    """Decide what becomes of an authorized payment's hold, on a payment locked by the caller.
    The first decision wins: the same one again is accepted (a retried request), another one is
    refused (409), so a capture and a cancel racing each other never both happen."""
    to_capture = None
    if decision is HoldDecision.CAPTURE:
        to_capture = payment.amount if amount is None else amount
        if to_capture > payment.amount:
            raise InvalidRequest(
                f"amount {to_capture} exceeds the {payment.amount} authorized",
                param="amount",
                code="amount_too_large",
            )
    if payment.hold_decision is not None:
        if payment.hold_decision == decision.value and payment.amount_to_capture == to_capture:
            return payment
        raise InvalidState(
            f"payment {payment.id} is already being {_DECIDED[payment.hold_decision]}",
            code="payment_hold_decided",
        )
    if payment.status != PaymentStatus.AUTHORIZED:
        raise InvalidState(
            f"payment {payment.id} is {payment.status}, not authorized",
            code="payment_not_authorized",
        )
    payment.hold_decision = decision.value
    payment.amount_to_capture = to_capture
    payment.updated_at = datetime.now(UTC)
    return payment


_DECIDED = {"capture": "captured", "cancel": "cancelled", "expire": "released (expired)"}
AUTHORIZATION_EXPIRED = "authorization_expired"


async def release(session: AsyncSession, payment_id: uuid.UUID) -> Payment:
    """After a manual payment's hold was voided: cancelled (emits payment.cancelled) or failed
    with authorization_expired, as decided; idempotent."""
    payment = await lock(session, payment_id)
    if payment.status != PaymentStatus.AUTHORIZED:
        return payment  # released already (a retried activity)
    if payment.processing_step != PaymentStep.VOIDED or payment.hold_decision not in (
        HoldDecision.CANCEL,
        HoldDecision.EXPIRE,
    ):
        raise InvalidState(
            f"payment {payment.id} is at step {payment.processing_step} with hold decision"
            f" {payment.hold_decision}: not released by a cancel or an expiry",
            code="payment_invalid_state",
        )
    if payment.hold_decision == HoldDecision.CANCEL:
        enter(session, payment, PaymentStatus.CANCELLED, EventType.PAYMENT_CANCELLED)
        return payment
    return fail_locked(session, payment, AUTHORIZATION_EXPIRED)
