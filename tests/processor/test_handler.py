"""One record → one workflow start, idempotent by workflow id, against a real Temporal."""

import json
import uuid

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from payments_core.consumer.batch import handle_batch
from payments_core.consumer.errors import PoisonMessage
from payments_core.consumer.records import SqsRecord
from payments_core.events.envelope import EventType
from payments_core.temporal.names import (
    PAYMENT_WORKFLOW,
    REFUND_WORKFLOW,
    payment_workflow_id,
    refund_workflow_id,
)
from payments_processor.handler import ProcessingHandler
from tests.core.consumer.support import (
    envelope,
    lambda_record,
    payment_initiated,
    refund_created,
)
from tests.processor.support import runs_of, started_input, wait_for_runs


def record(body: dict[str, object] | str, *, receive_count: int = 1) -> SqsRecord:
    text = body if isinstance(body, str) else json.dumps(body)
    message = lambda_record(str(uuid.uuid4()), text, receive_count=receive_count)
    return SqsRecord.from_lambda(message)


async def test_a_redelivered_payment_starts_one_workflow_running_or_finished(
    temporal: Client, task_queue: str
) -> None:
    handler = ProcessingHandler(temporal, task_queue)
    payment_id = str(uuid.uuid4())
    event = payment_initiated(payment_id)
    workflow_id = payment_workflow_id(payment_id)

    await handler(record(event))
    first = await temporal.get_workflow_handle(workflow_id).describe()
    await handler(record(event, receive_count=2))  # while it runs: no error, same run
    second = await temporal.get_workflow_handle(workflow_id).describe()

    assert first.workflow_type == PAYMENT_WORKFLOW
    assert first.task_queue == task_queue
    assert first.status is WorkflowExecutionStatus.RUNNING
    assert second.run_id == first.run_id
    assert await started_input(temporal, workflow_id) == {"payment_id": payment_id}

    await temporal.get_workflow_handle(workflow_id).terminate(reason="test: finished")
    await handler(record(event, receive_count=3))  # after it closed: still nothing new
    await wait_for_runs(temporal, workflow_id, 1)
    assert await runs_of(temporal, workflow_id) == [
        (first.run_id, WorkflowExecutionStatus.TERMINATED)
    ]


async def test_refund_created_starts_the_refund_workflow(temporal: Client, task_queue: str) -> None:
    refund_id, payment_id = str(uuid.uuid4()), str(uuid.uuid4())

    await ProcessingHandler(temporal, task_queue)(record(refund_created(refund_id, payment_id)))

    workflow_id = refund_workflow_id(refund_id)
    assert workflow_id == f"refund-{refund_id}"
    described = await temporal.get_workflow_handle(workflow_id).describe()
    assert described.workflow_type == REFUND_WORKFLOW
    assert described.status is WorkflowExecutionStatus.RUNNING
    assert await started_input(temporal, workflow_id) == {
        "refund_id": refund_id,
        "payment_id": payment_id,
    }


@pytest.mark.parametrize(
    "body",
    [
        "{truncated",
        envelope(EventType.PAYMENT_COMPLETED, {"payment": {"id": "p"}}),
        {"id": "evt_x", "type": "payment.teleported", "data": {}},
        envelope(EventType.PAYMENT_INITIATED, {"payment": {}}),
        envelope(EventType.REFUND_CREATED, {"payment": {"id": "p"}}),
    ],
    ids=["bad-json", "filtered-type", "unknown-type", "no-payment-id", "no-refund"],
)
async def test_records_no_retry_can_fix_are_poison(
    temporal: Client, task_queue: str, body: dict[str, object] | str
) -> None:
    with pytest.raises(PoisonMessage):
        await ProcessingHandler(temporal, task_queue)(record(body))


async def test_temporal_unavailable_fails_the_record_for_a_retry(task_queue: str) -> None:
    unreachable = await Client.connect("127.0.0.1:1", lazy=True)
    handler = ProcessingHandler(unreachable, task_queue)
    item = record(payment_initiated(str(uuid.uuid4())))

    with pytest.raises(RuntimeError, match="connect"):
        await handler(item)
    outcome = await handle_batch([item], handler, concurrency=1)
    assert outcome.failed == (item.message_id,)
    assert outcome.poison == ()
