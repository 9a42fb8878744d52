"""Database spans: under a span of ours only, with the statement but never its parameters."""

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from payments_core.db.engine import create_engine
from payments_core.telemetry.tracing import tracer

SECRET_VALUE = "sk_test_not_a_real_key_but_never_in_a_span"


async def test_statements_inside_a_span_are_child_spans_without_their_parameters(
    recorded_spans: InMemorySpanExporter, database_url: str
) -> None:
    engine = create_engine(database_url, pool_size=1)  # built while tracing is on
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT :value AS polled"), {"value": SECRET_VALUE})
            with tracer().start_as_current_span("request") as request:
                await connection.execute(text("SELECT :value AS traced"), {"value": SECRET_VALUE})
    finally:
        await engine.dispose()

    statements = [span for span in recorded_spans.get_finished_spans() if span.name != "request"]
    [statement] = statements  # the one outside any span made none
    assert statement.kind is SpanKind.CLIENT
    assert statement.parent is not None
    assert statement.parent.span_id == request.get_span_context().span_id
    attributes = dict(statement.attributes or {})
    assert any("traced" in str(value) for value in attributes.values()), attributes
    assert not any(SECRET_VALUE in str(value) for value in attributes.values())


async def test_with_tracing_off_an_engine_makes_no_spans(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            with tracer().start_as_current_span("request"):
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert not engine.sync_engine.dispatch.before_cursor_execute
