"""Payment statuses and the transitions between them (CONTRACT.md §1)."""

from enum import StrEnum


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    # The gateway asked the customer to authenticate (3-D Secure): nothing is held yet.
    REQUIRES_ACTION = "requires_action"
    # Manual capture: the gateway holds the money until a capture, a cancel or the expiry.
    AUTHORIZED = "authorized"
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
        {
            PaymentStatus.REQUIRES_ACTION,
            PaymentStatus.AUTHORIZED,
            PaymentStatus.COMPLETED,
            PaymentStatus.FAILED,
            PaymentStatus.CANCELLED,
        }
    ),
    PaymentStatus.REQUIRES_ACTION: frozenset(
        {PaymentStatus.PROCESSING, PaymentStatus.FAILED, PaymentStatus.CANCELLED}
    ),
    PaymentStatus.AUTHORIZED: frozenset(
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
UNFINISHED = (
    PaymentStatus.PENDING,
    PaymentStatus.PROCESSING,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.AUTHORIZED,
)
# Not final, and legitimately waiting for someone outside (the customer, the merchant) for as
# long as their timers allow: neither stuck nor the reconciler's while their workflow runs.
WAITING = (PaymentStatus.REQUIRES_ACTION, PaymentStatus.AUTHORIZED)
# Where the workflow's gateway work is under way: the statuses a gateway step may be taken in.
IN_FLIGHT = frozenset({PaymentStatus.PROCESSING, *WAITING})


class CaptureMethod(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class HoldDecision(StrEnum):
    """What becomes of a manual payment's hold, decided under the payment's lock (by the API's
    capture or cancel, or by the workflow's expiry timer): the first decision wins."""

    CAPTURE = "capture"
    CANCEL = "cancel"
    EXPIRE = "expire"


class AuthenticationOutcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"


def can_transition(current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


class PaymentStep(StrEnum):
    """How far the gateway work went; NULL means no charge was attempted (cancel still allowed)."""

    AUTHORIZING = "authorizing"
    # The gateway asked for customer authentication before it would authorize: nothing held.
    AUTHENTICATING = "authenticating"
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
    PaymentStep.AUTHORIZING: frozenset(
        {PaymentStep.AUTHORIZED, PaymentStep.AUTHENTICATING, PaymentStep.VOIDING}
    ),
    PaymentStep.AUTHENTICATING: frozenset({PaymentStep.AUTHORIZING}),
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
