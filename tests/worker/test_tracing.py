"""The processor's consumer span → the workflow and activity spans → the outbox rows the
activities write: one trace, carried by the SDK's tracing interceptor on a traced client."""

import json
import uuid

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text

from payments_core.consumer.lambda_entry import process_event
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.temporal import names
from payments_core.temporal.client import connect
from payments_processor.handler import ProcessingHandler
from payments_worker.activities import PaymentActivities
from payments_worker.payloads import PaymentOutcome
from payments_worker.worker import build_worker
from tests.core.consumer.support import lambda_record, payment_initiated
from tests.worker.support import SUCCEEDING_CARDS, Sessions, card_payment, result_of

SENDER_TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SENDER = f"00-{SENDER_TRACE_ID:032x}-00f067aa0ba902b7-01"


async def stored_traceparents(sessions: Sessions, payment_id: str) -> dict[str, str | None]:
    statement = text(
        "SELECT event_type, traceparent FROM outbox"
        " WHERE payload -> 'data' -> 'payment' ->> 'id' = :payment_id"
    )
    async with sessions() as session:
        rows = await session.execute(statement, {"payment_id": payment_id})
        return {row.event_type: row.traceparent for row in rows}


async def test_workflow_and_activity_spans_continue_the_consumer_span_and_reach_the_outbox(
    recorded_spans: InMemorySpanExporter,
    temporal_address: str,
    sessions: Sessions,
    sandbox: SandboxConnector,
    activities: PaymentActivities,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    client = await connect(temporal_address, "default")
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    record = lambda_record(str(uuid.uuid4()), json.dumps(payment_initiated(payment_id)))
    record["messageAttributes"]["traceparent"] = {"stringValue": SENDER, "dataType": "String"}

    async with build_worker(client, task_queue, activities):
        response = await process_event(
            {"Records": [record]}, ProcessingHandler(client, task_queue), concurrency=1
        )
        assert response == {"batchItemFailures": []}
        handle = client.get_workflow_handle(
            names.payment_workflow_id(payment_id), result_type=PaymentOutcome
        )
        assert await result_of(handle) == PaymentOutcome("completed")

    spans = recorded_spans.get_finished_spans()
    names_in_trace = {span.name for span in spans if span.context.trace_id == SENDER_TRACE_ID}
    assert {
        "StartWorkflow:PaymentProcessingWorkflow",
        "RunWorkflow:PaymentProcessingWorkflow",
        "RunActivity:start_processing",
    } <= names_in_trace, names_in_trace
    assert any(name.startswith("RunActivity:") and "capture" in name for name in names_in_trace)
    stored = await stored_traceparents(sessions, payment_id)
    for event_type in ("payment.processing", "payment.completed"):
        traceparent = stored[event_type]
        assert traceparent is not None and traceparent.split("-")[1] == f"{SENDER_TRACE_ID:032x}"
