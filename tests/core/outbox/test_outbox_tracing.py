"""The trace context an outbox row keeps, and the relay's publish span that sends it on."""

import uuid
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.session import transaction
from payments_core.events.envelope import Event, EventType
from payments_core.outbox.writer import add_event
from payments_core.telemetry.tracing import tracer
from tests.core.outbox.test_outbox_relay import outbox_rows, publish_all
from tests.tracing.recording import named, traceparent

Sessions = async_sessionmaker[AsyncSession]


async def write_event(sessions: Sessions, merchant_id: uuid.UUID) -> Event:
    event = Event.new(EventType.PAYMENT_INITIATED, merchant_id, {"payment": {"id": "p"}})
    async with transaction(sessions) as session:
        add_event(session, event)
    return event


async def test_an_event_written_inside_a_span_keeps_that_span_as_its_traceparent(
    recorded_spans: InMemorySpanExporter, sessions: Sessions, merchant_id: uuid.UUID
) -> None:
    with tracer().start_as_current_span("POST /api/v1/payments") as request_span:
        await write_event(sessions, merchant_id)

    (row,) = await outbox_rows(sessions, merchant_id)
    assert row.traceparent == traceparent(request_span)


async def test_with_tracing_off_an_event_keeps_no_traceparent(
    sessions: Sessions, merchant_id: uuid.UUID
) -> None:
    # A span of some other provider is current, but this process does not trace.
    with tracer().start_as_current_span("not ours"):
        await write_event(sessions, merchant_id)

    (row,) = await outbox_rows(sessions, merchant_id)
    assert row.traceparent is None


async def test_the_publish_span_is_a_child_of_the_stored_context_and_travels_with_the_message(
    recorded_spans: InMemorySpanExporter,
    make_relay: Any,
    analytics_queue: Any,
    sessions: Sessions,
    merchant_id: uuid.UUID,
) -> None:
    with tracer().start_as_current_span("activity") as activity_span:
        event = await write_event(sessions, merchant_id)

    await publish_all(make_relay())
    (message,) = await analytics_queue.read_until(1)

    [publish] = [
        span
        for span in named(recorded_spans, "send payment-events")
        if span.attributes and span.attributes["payments.event.id"] == event.id
    ]
    assert publish.kind is SpanKind.PRODUCER
    assert publish.parent is not None
    assert publish.parent.span_id == activity_span.get_span_context().span_id
    assert publish.context.trace_id == activity_span.get_span_context().trace_id
    assert message["MessageAttributes"]["traceparent"]["StringValue"] == traceparent(publish)
