"""A webhook POST carries a traceparent: its attempt span's, a child of the event's stored
context, so a delivery sent later from the table still joins the payment's trace."""

import uuid

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from payments_core.telemetry.tracing import tracer
from payments_core.webhooks.attempt_span import SPAN_NAME
from payments_webhook_sender.intake import IntakeHandler
from tests.core.consumer.support import eventually
from tests.tracing.recording import named, traceparent
from tests.webhooks.conftest import StartDispatcher
from tests.webhooks.support import (
    Receiver,
    Reply,
    Sessions,
    attempted,
    create_endpoint,
    finished,
    record_event,
    sqs_record,
)


async def test_each_attempt_sends_its_own_span_as_traceparent_under_the_events_context(
    recorded_spans: InMemorySpanExporter,
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    receiver.script("/traced", Reply(500), then=Reply(200))
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/traced"))
    with tracer().start_as_current_span("activity") as activity_span:
        event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))

    await start_dispatcher(webhook_retry_schedule=(1,))
    await eventually(lambda: finished(sessions, event.id, endpoint_id), what="the delivery")

    attempts = named(recorded_spans, SPAN_NAME)
    requests = receiver.requests("/traced")
    assert len(attempts) == len(requests) == 2
    activity = activity_span.get_span_context()
    for span in attempts:
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None and span.parent.span_id == activity.span_id
        assert span.context.trace_id == activity.trace_id
        assert span.attributes is not None
        assert span.attributes["payments.event.id"] == event.id
        assert not any("url" in name for name in span.attributes)
    failed, succeeded = sorted(attempts, key=lambda span: span.start_time or 0)
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None and failed.attributes["http.response.status_code"] == 500
    assert [request.headers["traceparent"] for request in requests] == [
        traceparent(failed),
        traceparent(succeeded),
    ]


async def test_with_tracing_off_a_webhook_carries_no_traceparent(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    endpoint_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/untraced"))
    event = await record_event(sessions, merchant_id)
    await IntakeHandler(sessions)(sqs_record(event))

    await start_dispatcher()
    await eventually(lambda: attempted(sessions, event.id, endpoint_id), what="the attempt")

    [request] = receiver.requests("/untraced")
    assert "traceparent" not in request.headers
