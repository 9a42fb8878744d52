"""A record's traceparent becomes the parent of the CONSUMER span its handler runs in, on both
paths (the polling loop against moto, and a Lambda event)."""

import json
import uuid

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind, StatusCode

from payments_core.aws.clients import AwsClient, AwsContext
from payments_core.aws.provisioning import ProvisionedResources
from payments_core.aws.topology import PROCESSING_QUEUE
from payments_core.consumer.errors import PoisonMessage
from payments_core.consumer.lambda_entry import process_event
from payments_core.consumer.records import SqsRecord
from tests.core.consumer.support import eventually, lambda_record, payment_initiated
from tests.core.consumer.test_polling import config, running

SENDER_TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SENDER_SPAN_ID = 0xB7AD6B7169203331
SENDER = f"00-{SENDER_TRACE_ID:032x}-{SENDER_SPAN_ID:016x}-01"


def traced_lambda_event(traceparent: str | None) -> dict[str, object]:
    record = lambda_record(str(uuid.uuid4()), json.dumps(payment_initiated("pay_1")))
    if traceparent is not None:
        record["messageAttributes"]["traceparent"] = {
            "stringValue": traceparent,
            "dataType": "String",
        }
    return {"Records": [record]}


async def test_a_polled_record_is_handled_in_a_consumer_span_under_the_senders_span(
    recorded_spans: InMemorySpanExporter,
    topology: ProvisionedResources,
    aws: AwsContext,
    sqs: AwsClient,
) -> None:
    queue = topology.queues[PROCESSING_QUEUE]
    seen: list[SpanContext] = []

    async def handle(record: SqsRecord) -> None:
        seen.append(trace.get_current_span().get_span_context())

    await sqs.send_message(
        QueueUrl=queue.url,
        MessageBody=json.dumps(payment_initiated("pay_1")),
        MessageAttributes={
            "type": {"DataType": "String", "StringValue": "payment.initiated"},
            "traceparent": {"DataType": "String", "StringValue": SENDER},
        },
    )
    async with running(aws, handle, config()):
        await eventually(lambda: bool(seen), within=15, what="the record handled")

    [span] = recorded_spans.get_finished_spans()
    assert span.name == f"process {PROCESSING_QUEUE}"
    assert span.kind is SpanKind.CONSUMER
    assert span.parent is not None and span.parent.span_id == SENDER_SPAN_ID
    assert span.context.trace_id == SENDER_TRACE_ID
    assert seen == [span.context]  # the handler ran inside it
    assert span.attributes is not None
    assert span.attributes["payments.event.type"] == "payment.initiated"


async def test_a_lambda_record_continues_its_trace_and_a_failure_marks_the_span(
    recorded_spans: InMemorySpanExporter,
) -> None:
    async def reject(record: SqsRecord) -> None:
        raise PoisonMessage("not for this consumer")

    response = await process_event(traced_lambda_event(SENDER), reject, concurrency=1)

    assert len(response["batchItemFailures"]) == 1
    [span] = recorded_spans.get_finished_spans()
    assert span.kind is SpanKind.CONSUMER
    assert span.parent is not None and span.parent.span_id == SENDER_SPAN_ID
    assert span.context.trace_id == SENDER_TRACE_ID
    assert span.status.status_code is StatusCode.ERROR


async def test_a_record_without_a_traceparent_starts_its_own_trace(
    recorded_spans: InMemorySpanExporter,
) -> None:
    async def accept(record: SqsRecord) -> None:
        pass

    await process_event(traced_lambda_event(None), accept, concurrency=1)
    await process_event(traced_lambda_event("00-garbage"), accept, concurrency=1)

    spans = recorded_spans.get_finished_spans()
    assert len(spans) == 2
    assert all(span.parent is None for span in spans)


async def test_with_tracing_off_no_span_surrounds_the_handler() -> None:
    seen: list[SpanContext] = []

    async def handle(record: SqsRecord) -> None:
        seen.append(trace.get_current_span().get_span_context())

    await process_event(traced_lambda_event(SENDER), handle, concurrency=1)

    assert seen == [trace.INVALID_SPAN_CONTEXT]
