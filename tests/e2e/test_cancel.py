"""Cancel before the charge: the API decides in PostgreSQL and signals the waiting workflow;
when a worker finally runs it, the workflow ends without ever calling the gateway."""

import asyncio

from temporalio.client import WorkflowExecutionStatus

from payments_core.temporal.names import payment_workflow_id
from payments_worker.payloads import PaymentOutcome
from tests.e2e.support import SUCCEEDING_CARDS, Pipeline


async def test_cancel_before_the_charge_never_reaches_the_gateway(
    pipeline_without_worker: Pipeline,
) -> None:
    pipeline = pipeline_without_worker
    merchant = await pipeline.onboard()
    payment = await pipeline.card_payment(merchant, SUCCEEDING_CARDS[0])
    workflow_id = payment_workflow_id(payment["id"])
    # The processor started the workflow; no worker polls its task queue yet.
    assert await pipeline.wait_for_workflow(workflow_id) == WorkflowExecutionStatus.RUNNING

    response = await pipeline.api.post(
        f"/payments/{payment['id']}/cancel", headers=merchant.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "cancelled"

    await pipeline.start_worker()
    handle = pipeline.temporal.get_workflow_handle(workflow_id, result_type=PaymentOutcome)
    async with asyncio.timeout(30):
        outcome = await handle.result()
    assert outcome == PaymentOutcome("cancelled")

    final = await pipeline.get_payment(merchant, payment["id"])
    assert final["status"] == "cancelled"
    assert final["gatewayReference"] is None
    assert final["completedAt"] is None
    assert await pipeline.ledger(payment["id"]) == []  # the gateway was never called

    events = await pipeline.wait_published("payment", payment["id"], count=2)
    assert [event["type"] for event in events] == ["payment.initiated", "payment.cancelled"]
    assert events[-1]["payload"]["data"]["payment"]["status"] == "cancelled"

    # Cancelling again is a no-op that still answers cancelled.
    again = await pipeline.api.post(f"/payments/{payment['id']}/cancel", headers=merchant.headers)
    assert again.status_code == 200, again.text
    assert again.json()["data"]["status"] == "cancelled"
