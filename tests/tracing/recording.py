"""Spans recorded in memory, for tests that check what a piece of code traced.

The global tracer provider can be set once per process, so one recording provider serves the
whole session; the `recorded_spans` fixture (offered to every test by tests/conftest.py)
switches tracing on with it for one test only.
"""

import functools
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from payments_core.telemetry.tracing import use_provider

TEST_SERVICE = "payments-tests"


@functools.cache
def _recording() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": TEST_SERVICE}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider, "another tracer provider was installed"
    return provider, exporter


@pytest.fixture
def recorded_spans() -> Iterator[InMemorySpanExporter]:
    provider, exporter = _recording()
    exporter.clear()
    use_provider(provider)
    try:
        yield exporter
    finally:
        use_provider(None)
        exporter.clear()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def traceparent(span: ReadableSpan | trace.Span) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
