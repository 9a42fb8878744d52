"""A refund through the API: `refund.created` → processor → `refund-<id>` → the gateway → the
refund succeeded and the payment partially_refunded, then refunded after the rest."""

from typing import Any

from temporalio.client import WorkflowExecutionStatus

from payments_core.gateway.sandbox.entries import Operation, Outcome
from payments_core.temporal.names import refund_workflow_id
from tests.e2e.support import SUCCEEDING_CARDS, Merchant, Pipeline

AMOUNT = 10_000
PARTIAL = 4_000


async def _refund(
    pipeline: Pipeline, merchant: Merchant, payment_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await pipeline.api.post(
        f"/payments/{payment_id}/refunds", json=body, headers=merchant.headers
    )
    assert response.status_code == 201, response.text
    refund: dict[str, Any] = response.json()["data"]
    assert refund["status"] == "pending"
    assert refund["paymentId"] == payment_id
    return refund


async def _check_refund_done(
    pipeline: Pipeline,
    merchant: Merchant,
    refund: dict[str, Any],
    *,
    amount: int,
    payment_status: str,
    refunded_so_far: int,
) -> None:
    finished = await pipeline.wait_for_refund(merchant, refund["id"])
    assert finished["status"] == "succeeded", finished
    assert finished["amount"] == amount
    assert finished["gatewayReference"]
    assert finished["failureReason"] is None

    workflow_id = refund_workflow_id(refund["id"])  # started by the processor
    await pipeline.wait_for_workflow_status(workflow_id, WorkflowExecutionStatus.COMPLETED)
    description = await pipeline.temporal.get_workflow_handle(workflow_id).describe()
    assert description.task_queue == pipeline.task_queue

    payment = await pipeline.get_payment(merchant, refund["paymentId"])
    assert payment["status"] == payment_status
    assert payment["amountRefunded"] == refunded_so_far

    events = await pipeline.wait_published("refund", refund["id"], count=2)
    assert [event["type"] for event in events] == ["refund.created", "refund.succeeded"]
    created, succeeded = (event["payload"]["data"] for event in events)
    assert created["refund"]["status"] == "pending"
    assert created["payment"]["id"] == payment["id"]
    assert succeeded["refund"] == finished
    assert succeeded["payment"] == payment


async def test_partial_then_full_refund_through_the_pipeline(pipeline: Pipeline) -> None:
    merchant = await pipeline.onboard()
    payment = await pipeline.card_payment(merchant, SUCCEEDING_CARDS[1], amount=AMOUNT)
    completed = await pipeline.wait_for_payment(merchant, payment["id"])
    assert completed["status"] == "completed"

    # After the charge a cancel is refused: refunds are the way back.
    cancel = await pipeline.api.post(f"/payments/{payment['id']}/cancel", headers=merchant.headers)
    assert cancel.status_code == 409, cancel.text
    assert cancel.json()["error"]["type"] == "invalid_state_error"

    first = await _refund(
        pipeline, merchant, payment["id"], {"amount": PARTIAL, "reason": "requested_by_customer"}
    )
    await _check_refund_done(
        pipeline,
        merchant,
        first,
        amount=PARTIAL,
        payment_status="partially_refunded",
        refunded_so_far=PARTIAL,
    )

    rest = await _refund(pipeline, merchant, payment["id"], {})  # no amount: what remains
    assert rest["amount"] == AMOUNT - PARTIAL
    await _check_refund_done(
        pipeline,
        merchant,
        rest,
        amount=AMOUNT - PARTIAL,
        payment_status="refunded",
        refunded_so_far=AMOUNT,
    )

    listed = await pipeline.api.get(f"/payments/{payment['id']}/refunds", headers=merchant.headers)
    assert [refund["status"] for refund in listed.json()["data"]] == ["succeeded", "succeeded"]
    assert await pipeline.count(payment["id"], Operation.REFUND, Outcome.APPROVED) == 2
    assert await pipeline.count(payment["id"], Operation.CAPTURE, Outcome.APPROVED) == 1

    # Nothing is left to refund.
    more = await pipeline.api.post(
        f"/payments/{payment['id']}/refunds", json={"amount": 1}, headers=merchant.headers
    )
    assert more.status_code in (400, 409), more.text
