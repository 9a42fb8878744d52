"""The Lambda entrypoint: a synthetic SQS event, real Temporal, client reused across calls."""

import json
import uuid
from collections.abc import Iterator

import pytest
from temporalio.client import WorkflowExecutionDescription

from payments_core.temporal.names import payment_workflow_id, refund_workflow_id
from payments_processor import lambda_function
from tests.core.consumer.support import lambda_record, payment_initiated, refund_created
from tests.processor.conftest import UNUSED_DATABASE_URL


@pytest.fixture
def lambda_environment(
    monkeypatch: pytest.MonkeyPatch, temporal_address: str, task_queue: str
) -> Iterator[None]:
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_address)
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", task_queue)
    monkeypatch.setenv("DATABASE_URL", UNUSED_DATABASE_URL)
    monkeypatch.setenv("PROCESSOR_CONCURRENCY", "4")
    # The test's log capture stays in place (configure_logging would cache loggers).
    monkeypatch.setattr(lambda_function, "configure_logging", lambda *_: None)
    lambda_function.reset()
    yield
    lambda_function.reset()


def describe(workflow_id: str) -> WorkflowExecutionDescription:
    state = lambda_function.container()
    handle = state.handler.client.get_workflow_handle(workflow_id)
    return state.runner.run(handle.describe())


@pytest.mark.usefixtures("lambda_environment")
def test_batch_item_failures_list_exactly_the_poison_records() -> None:
    payment_id, refund_id = str(uuid.uuid4()), str(uuid.uuid4())
    event = {
        "Records": [
            lambda_record("m-payment", json.dumps(payment_initiated(payment_id))),
            lambda_record("m-bad-json", '{"id": "evt_1", "type": '),
            lambda_record("m-unknown", json.dumps({"id": "evt_2", "type": "x.y", "data": {}})),
            lambda_record("m-refund", json.dumps(refund_created(refund_id, payment_id))),
        ]
    }

    response = lambda_function.handler(event, None)

    assert response == {
        "batchItemFailures": [{"itemIdentifier": "m-bad-json"}, {"itemIdentifier": "m-unknown"}]
    }
    first = describe(payment_workflow_id(payment_id))
    assert describe(refund_workflow_id(refund_id)).workflow_type == "RefundWorkflow"

    # A second invocation in the same container: same client, same loop, same single run.
    client = lambda_function.container().handler.client
    redelivered = {"Records": [event["Records"][0] | {"messageId": "m-again"}]}
    assert lambda_function.handler(redelivered, None) == {"batchItemFailures": []}
    assert lambda_function.container().handler.client is client
    assert describe(payment_workflow_id(payment_id)).run_id == first.run_id
