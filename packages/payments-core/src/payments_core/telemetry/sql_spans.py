"""Database spans: one CLIENT span per SQL statement, only inside a span of our own.

Why only as children: the outbox relay, the webhook dispatcher and the sweeper query the
database every second or so, and a root span per poll would bury the payment traces. Statements
are recorded as SQLAlchemy sends them, with placeholders: parameter values never reach a span.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util import types
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_core.telemetry.tracing import tracing_active

if TYPE_CHECKING:
    from opentelemetry.util._decorator import _AgnosticContextManager

SQL_TRACER_NAME = "opentelemetry.instrumentation.sqlalchemy"


_NO_SPANS = trace.NoOpTracer()


class _ChildSpansOnly(trace.Tracer):
    """Starts spans with `inner` under a current (or given) span, and none otherwise."""

    def __init__(self, inner: trace.Tracer) -> None:
        self._inner = inner

    def _for(self, context: Context | None) -> trace.Tracer:
        has_parent = trace.get_current_span(context).get_span_context().is_valid
        return self._inner if has_parent else _NO_SPANS

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        return self._for(context).start_span(
            name, context, kind, attributes, links, start_time,
            record_exception, set_status_on_exception,
        )  # fmt: skip

    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> "_AgnosticContextManager[Span]":
        return self._for(context).start_as_current_span(
            name, context, kind, attributes, links, start_time,
            record_exception, set_status_on_exception, end_on_exit,
        )  # fmt: skip


def instrument_engine(engine: AsyncEngine) -> None:
    """Trace the engine's statements, when tracing is on (a no-op otherwise)."""
    if not tracing_active():
        return
    # The instrumentor itself is a process-wide singleton that patches `create_engine`; its
    # per-engine tracer is what we need, for each engine a process builds.
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    inner = trace.get_tracer(SQL_TRACER_NAME)
    connections = metrics.get_meter(SQL_TRACER_NAME).create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(_ChildSpansOnly(inner), engine.sync_engine, connections)  # type: ignore[no-untyped-call]
