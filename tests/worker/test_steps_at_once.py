"""payments.steps, the one-statement gateway steps of the worker's hot path, against the
locking rule they stand in for: from every status and step a payment can be in, a step moves
at once exactly when `transitions` would let it (an in-flight status, `can_step`), and an
automatic-only step leaves a manual payment to the locking path; otherwise nothing changes."""

import itertools
import uuid

import pytest

from payments_core.db.session import transaction
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.payments import steps, transitions
from payments_core.payments.status import (
    IN_FLIGHT,
    CaptureMethod,
    PaymentStatus,
    PaymentStep,
    can_step,
)
from tests.worker.support import Sessions, bank_transfer_method, create_payment, payment_row

STATUSES = [PaymentStatus.PROCESSING, PaymentStatus.AUTHORIZED, PaymentStatus.COMPLETED]
CURRENT_STEPS = [None, *PaymentStep]
CASES = list(
    itertools.product(STATUSES, CURRENT_STEPS, [PaymentStep.AUTHORIZED, PaymentStep.CAPTURING])
)


@pytest.mark.parametrize(("status", "current", "target"), CASES, ids=str)
@pytest.mark.parametrize("capture_method", list(CaptureMethod))
async def test_a_step_moves_at_once_exactly_when_the_locking_path_allows_it(
    sessions: Sessions,
    sandbox: SandboxConnector,
    merchant_id: uuid.UUID,
    status: PaymentStatus,
    current: PaymentStep | None,
    target: PaymentStep,
    capture_method: CaptureMethod,
) -> None:
    method_id = await bank_transfer_method(sessions, sandbox, merchant_id)
    payment_id = await create_payment(
        sessions, merchant_id, method_id, capture_method=capture_method.value
    )
    async with transaction(sessions) as session:
        payment = await transitions.lock(session, uuid.UUID(payment_id))
        payment.status = status.value
        payment.processing_step = current.value if current else None
    automatic_only = target == PaymentStep.AUTHORIZED

    stepped = await steps.step_at_once(
        sessions,
        uuid.UUID(payment_id),
        target,
        gateway_reference="ref_at_once" if target == PaymentStep.AUTHORIZED else None,
        automatic_only=automatic_only,
    )

    allowed = status in IN_FLIGHT and can_step(current.value if current else None, target)
    if automatic_only:
        allowed = allowed and capture_method == CaptureMethod.AUTOMATIC
    payment = await payment_row(sessions, payment_id)
    assert (stepped is not None) == allowed
    if allowed:
        assert stepped is not None and stepped.connector_id is None  # the sandbox
        assert payment.processing_step == target.value
        if target == PaymentStep.AUTHORIZED:
            assert payment.gateway_reference == "ref_at_once"
    else:
        assert payment.processing_step == (current.value if current else None)
        assert payment.gateway_reference is None
    assert payment.status == status.value  # a step never moves the status
