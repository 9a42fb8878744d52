"""Counting (and logging) payments and refunds as their status changes, once it is committed."""

from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.db.after_commit import after_commit
from payments_core.payments.models import Payment
from payments_core.payments.status import PaymentStatus
from payments_core.refunds.models import Refund
from payments_core.telemetry.metrics import (
    NONE,
    PAYMENT_LIFECYCLE,
    PAYMENT_TRANSITIONS,
    REFUND_TRANSITIONS,
    code_label,
)

log = structlog.get_logger("payments_core.payments")

# Where a payment's own processing ends (refunds come later and are counted on their own).
LIFECYCLE_ENDS = frozenset({PaymentStatus.COMPLETED, PaymentStatus.FAILED, PaymentStatus.CANCELLED})


def count_payment(session: AsyncSession, payment: Payment) -> None:
    """Count the status `payment` just entered (values read now: the row may expire later)."""
    after_commit(
        session,
        payment_status_recorder(
            str(payment.id),
            payment.status,
            payment.currency,
            payment.failure_reason,
            payment.created_at,
        ),
    )


def payment_status_recorder(
    payment_id: str,
    status: str,
    currency: str,
    failure_reason: str | None,
    created_at: datetime | None,
) -> Callable[[], None]:
    """What counts (and logs) a payment's new status: to call once its change has committed."""
    reason = code_label(failure_reason) if status == PaymentStatus.FAILED else NONE
    lifecycle = None
    if status in LIFECYCLE_ENDS and created_at is not None:
        lifecycle = max((datetime.now(UTC) - created_at).total_seconds(), 0.0)

    def record() -> None:
        PAYMENT_TRANSITIONS.labels(status=status, currency=currency, failure_reason=reason).inc()
        if lifecycle is not None:
            PAYMENT_LIFECYCLE.labels(status=status, currency=currency).observe(lifecycle)
        log.info(
            "payment.status_changed",
            payment_id=payment_id,
            status=status,
            failure_reason=reason if reason != NONE else None,
            lifecycle_seconds=round(lifecycle, 3) if lifecycle is not None else None,
        )

    return record


def count_refund(session: AsyncSession, refund: Refund) -> None:
    status, currency = refund.status, refund.currency
    refund_id, payment_id = str(refund.id), str(refund.payment_id)
    reason = code_label(refund.failure_reason) if refund.failure_reason else NONE

    def record() -> None:
        REFUND_TRANSITIONS.labels(status=status, currency=currency, failure_reason=reason).inc()
        log.info(
            "refund.status_changed",
            refund_id=refund_id,
            payment_id=payment_id,
            status=status,
            failure_reason=reason if reason != NONE else None,
        )

    after_commit(session, record)
