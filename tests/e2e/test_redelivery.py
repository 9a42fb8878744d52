"""At-least-once delivery: the same `payment.initiated` arriving again, while the payment's
workflow runs and after it finished, starts no second workflow and charges nobody twice."""

from temporalio.client import WorkflowExecutionStatus

from payments_core.gateway.sandbox.entries import Operation, Outcome
from payments_core.temporal.names import payment_workflow_id
from tests.e2e.support import SUCCEEDING_CARDS, Pipeline, eventually


async def test_a_redelivered_payment_initiated_starts_one_workflow(pipeline: Pipeline) -> None:
    merchant = await pipeline.onboard()
    payment = await pipeline.card_payment(merchant, SUCCEEDING_CARDS[0])
    workflow_id = payment_workflow_id(payment["id"])

    initiated = (await pipeline.wait_published("payment", payment["id"], count=1))[0]
    assert initiated["type"] == "payment.initiated"
    envelope = initiated["payload"]
    await pipeline.wait_for_workflow(workflow_id)
    await pipeline.publish_again(envelope)  # the workflow may still be running

    final = await pipeline.wait_for_payment(merchant, payment["id"])
    assert final["status"] == "completed"
    await pipeline.wait_for_workflow_status(workflow_id, WorkflowExecutionStatus.COMPLETED)
    await pipeline.publish_again(envelope)  # and now it has finished

    # The original delivery and both copies were each handled (and deleted from the queue).
    await eventually(
        lambda: pipeline.handled_records() >= 3, what="three deliveries handled by the processor"
    )

    description = await pipeline.temporal.get_workflow_handle(workflow_id).describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED  # not started again
    assert description.task_queue == pipeline.task_queue
    runs = await eventually(
        lambda: pipeline.runs_of(workflow_id), what=f"{workflow_id} in the visibility store"
    )
    assert runs == [WorkflowExecutionStatus.COMPLETED]

    assert await pipeline.count(payment["id"], Operation.AUTHORIZE, Outcome.APPROVED) == 1
    assert await pipeline.count(payment["id"], Operation.CAPTURE, Outcome.APPROVED) == 1
    events = await pipeline.payment_events(payment["id"])
    assert [event["type"] for event in events] == [
        "payment.initiated",
        "payment.processing",
        "payment.completed",
    ]
    assert await pipeline.get_payment(merchant, payment["id"]) == final
