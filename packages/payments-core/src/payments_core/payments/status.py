"""Payment statuses and the transitions between them (CONTRACT.md §1)."""

from enum import StrEnum


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


ALLOWED_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset(
        {PaymentStatus.PROCESSING, PaymentStatus.CANCELLED, PaymentStatus.FAILED}
    ),
    PaymentStatus.PROCESSING: frozenset(
        {PaymentStatus.COMPLETED, PaymentStatus.FAILED, PaymentStatus.CANCELLED}
    ),
    PaymentStatus.COMPLETED: frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}),
    PaymentStatus.PARTIALLY_REFUNDED: frozenset(
        {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
    ),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
    PaymentStatus.REFUNDED: frozenset(),
}


# Not final yet: what the reconciler watches (the partial index ix_payments_unfinished_updated).
UNFINISHED = (PaymentStatus.PENDING, PaymentStatus.PROCESSING)


def can_transition(current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


class PaymentStep(StrEnum):
    """How far the gateway work went; NULL means no charge was attempted (cancel still allowed)."""

    AUTHORIZING = "authorizing"
    AUTHORIZED = "authorized"
    CAPTURING = "capturing"
    CAPTURED = "captured"
    VOIDING = "voiding"
    VOIDED = "voided"


# Which gateway step may follow which (None: no charge attempted yet). A step may also repeat
# itself (an activity retried). CAPTURED has no successor: once the capture is recorded the money
# moved, so nothing may undo or redo it and the payment can only complete. VOIDING → CAPTURING is
# the one way back: the gateway refused the void because the capture had gone through after all
# (its answer was lost), and the workflow records that capture.
STEP_TRANSITIONS: dict[str | None, frozenset[PaymentStep]] = {
    None: frozenset({PaymentStep.AUTHORIZING}),
    PaymentStep.AUTHORIZING: frozenset({PaymentStep.AUTHORIZED, PaymentStep.VOIDING}),
    PaymentStep.AUTHORIZED: frozenset({PaymentStep.CAPTURING, PaymentStep.VOIDING}),
    PaymentStep.CAPTURING: frozenset({PaymentStep.CAPTURED, PaymentStep.VOIDING}),
    PaymentStep.CAPTURED: frozenset(),
    PaymentStep.VOIDING: frozenset({PaymentStep.VOIDED, PaymentStep.CAPTURING}),
    PaymentStep.VOIDED: frozenset(),
}


def can_step(current: str | None, target: PaymentStep) -> bool:
    """Whether gateway step `target` may follow `current` (repeating a step is always allowed)."""
    return (
        current == target.value
        or target in STEP_TRANSITIONS[None if current is None else PaymentStep(current)]
    )
