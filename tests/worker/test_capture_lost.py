"""A capture that went through always ends `completed`, whatever is lost and whatever the gateway
does afterwards (issue 13, item 1).

Before the fix, the capture activity repeated after its capture was recorded moved the step back
to `capturing` and called the gateway again; a gateway outage then exhausted its retries, the
workflow voided (retried for ever against the outage, or refused), and a payment whose money had
moved stayed `processing`. And once a void was refused because the capture had gone through, the
capture was retried only 5 times before the workflow failed with the money captured.
"""

import uuid

from temporalio.client import Client

from payments_core.gateway.sandbox import SandboxConnector
from payments_worker.activities import PaymentActivities
from payments_worker.payloads import PaymentOutcome
from payments_worker.policies import CAPTURE_RETRY
from payments_worker.worker import build_worker
from tests.worker.faults import CompletionLost, GatewayOutage
from tests.worker.support import (
    SUCCEEDING_CARDS,
    Sessions,
    card_payment,
    ledger,
    payment_events,
    payment_row,
    run_payment,
)


async def test_a_recorded_capture_completes_while_the_gateway_is_down(
    sessions: Sessions, sandbox: SandboxConnector, client: Client, merchant_id: uuid.UUID
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    gateway = GatewayOutage(sandbox)
    activities = CompletionLost(sessions, gateway)  # type: ignore[arg-type]
    task_queue = f"capture-lost-{uuid.uuid4().hex}"

    async with build_worker(client, task_queue, activities):
        outcome = await run_payment(client, task_queue, payment_id)

    assert outcome == PaymentOutcome("completed")
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step) == ("completed", "captured")
    assert await ledger(sessions, payment_id) == [
        ("authorize", "approved"),
        ("capture", "approved"),
    ]
    # Answered from the record: the gateway was not asked again, nothing was voided.
    assert (gateway.captures, gateway.voids) == (1, 0)
    assert (await payment_events(sessions, payment_id))[-1] == "payment.completed"


async def test_a_capture_whose_answer_was_lost_completes_after_the_void_is_refused(
    sessions: Sessions, sandbox: SandboxConnector, client: Client, merchant_id: uuid.UUID
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    # The capture's retries all meet the outage, so the workflow voids; the gateway refuses (the
    # capture went through), and the outage lasts through as many capture attempts as a
    # capture's retry policy allows: only retrying until it is recorded completes the payment.
    retries_of_first_capture = CAPTURE_RETRY.maximum_attempts - 1
    gateway = GatewayOutage(
        sandbox,
        failing_captures=retries_of_first_capture + CAPTURE_RETRY.maximum_attempts,
        lose_first_answer=True,
    )
    activities = PaymentActivities(sessions, gateway)  # type: ignore[arg-type]
    task_queue = f"capture-lost-{uuid.uuid4().hex}"

    async with build_worker(client, task_queue, activities):
        outcome = await run_payment(client, task_queue, payment_id)

    assert outcome == PaymentOutcome("completed")
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step) == ("completed", "captured")
    assert payment.capture_reference is not None
    assert await ledger(sessions, payment_id) == [
        ("authorize", "approved"),
        ("capture", "approved"),
        ("void", "failed"),
    ]
    assert gateway.voids == 1
