"""Distributed tracing with OpenTelemetry: one payment is one trace, across all four services.

Off unless the standard `OTEL_*` variables ask for it, and then cheap: no tracer provider, no
exporter, no instrumentation, and no `traceparent` written anywhere. On when
`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, or when
`OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`); `OTEL_TRACES_EXPORTER=none` and
`OTEL_SDK_DISABLED=true` keep it off. Everything else (`OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`, `OTEL_TRACES_SAMPLER`, the exporter's headers and
timeouts) is read by the SDK itself.

The context crosses process boundaries as a W3C `traceparent`: stored on the outbox row, carried
by the SNS message attribute, by Temporal headers, and by the webhook POST.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

log = structlog.get_logger(__name__)

API_SERVICE = "payments-api"
WORKER_SERVICE = "payments-worker"
PROCESSOR_SERVICE = "payments-processor"
WEBHOOK_SENDER_SERVICE = "payments-webhook-sender"

TRACER_NAME = "payments"
TRACEPARENT = "traceparent"
SUPPORTED_PROTOCOL = "http/protobuf"

# Always W3C on our own carriers (outbox column, SNS attribute, webhook header), whatever
# OTEL_PROPAGATORS says: they are part of the contract, not a deployment choice.
_W3C = TraceContextTextMapPropagator()
_provider: "TracerProvider | None" = None


@dataclass(frozen=True)
class Tracing:
    """What `configure_tracing` installed; `provider` is None when tracing is off."""

    provider: "TracerProvider | None" = None

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def flush(self) -> None:
        """Export what is buffered now (a Lambda container may be frozen after the return)."""
        if self.provider is not None:
            self.provider.force_flush()

    def shutdown(self) -> None:
        """Flush and stop exporting; tracing is off for the rest of the process."""
        if self.provider is not None:
            if _provider is self.provider:
                use_provider(None)
            self.provider.shutdown()


def _exporter_names(environ: Mapping[str, str]) -> list[str] | None:
    raw = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if not raw:
        return None
    return [name.strip().lower() for name in raw.split(",") if name.strip()]


def tracing_requested(environ: Mapping[str, str]) -> bool:
    """Whether these variables switch tracing on (see the module docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    names = _exporter_names(environ)
    if names is not None:
        return any(name != "none" for name in names)
    return any(
        environ.get(variable, "").strip()
        for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def tracing_resource(default_service_name: str) -> "Resource":
    """The SDK's resource, with `service.name` defaulting to this service's own name;
    OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still win."""
    from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource

    configured = OTELResourceDetector().detect().attributes
    return Resource.create({SERVICE_NAME: default_service_name, **configured})


def _exporters(environ: Mapping[str, str]) -> list["SpanExporter"]:
    exporters: list[SpanExporter] = []
    for name in _exporter_names(environ) or ["otlp"]:
        if name == "otlp":
            exporters.append(_otlp_exporter(environ))
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif name != "none":
            log.warning("tracing.unknown_exporter", exporter=name, known=["otlp", "console"])
    return exporters


def _otlp_exporter(environ: Mapping[str, str]) -> "SpanExporter":
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or SUPPORTED_PROTOCOL
    ).strip()
    if protocol != SUPPORTED_PROTOCOL:
        # Only the HTTP exporter is installed (the gRPC one would add grpcio to every image).
        log.warning("tracing.unsupported_protocol", protocol=protocol, used=SUPPORTED_PROTOCOL)
    return OTLPSpanExporter()


def configure_tracing(default_service_name: str) -> Tracing:
    """Install this process's tracer provider when the environment asks for tracing.

    Call once at start, after logging is configured; call `shutdown()` on the result at exit.
    """
    if not tracing_requested(os.environ):
        return Tracing()
    exporters = _exporters(os.environ)
    if not exporters:
        return Tracing()
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Our own shutdown runs at exit; the SDK's atexit hook would only repeat it.
    provider = TracerProvider(
        resource=tracing_resource(default_service_name), shutdown_on_exit=False
    )
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    use_provider(provider)
    log.info(
        "tracing.enabled",
        service_name=provider.resource.attributes.get("service.name"),
        exporters=[type(exporter).__name__ for exporter in exporters],
    )
    return Tracing(provider)


def use_provider(provider: "TracerProvider | None") -> None:
    """Switch tracing on with `provider` (the global one already) or, with None, off.

    `configure_tracing` calls it; tests call it around the spans they record, since the global
    provider can be set only once per process.
    """
    global _provider
    _provider = provider


def tracing_active() -> bool:
    return _provider is not None


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def current_traceparent() -> str | None:
    """The current span's context as a W3C traceparent, or None (tracing off, or no span)."""
    if _provider is None:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get(TRACEPARENT)


def context_from_traceparent(traceparent: str | None) -> Context | None:
    """A context whose parent is the remote span `traceparent` names; None when there is none
    (or it is malformed: it may come from a message anyone could have sent)."""
    if not traceparent:
        return None
    context = _W3C.extract({TRACEPARENT: traceparent})
    if not trace.get_current_span(context).get_span_context().is_valid:
        return None
    return context


def traceparent_of(span: trace.Span) -> str | None:
    """`span`'s context as a W3C traceparent (None for a span that is not recording)."""
    if not span.get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get(TRACEPARENT)
