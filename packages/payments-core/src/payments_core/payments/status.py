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
