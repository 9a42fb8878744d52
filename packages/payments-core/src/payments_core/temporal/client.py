"""Connecting to Temporal from settings (the dev server locally, Temporal Cloud or a cluster)."""

from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime

from payments_core.telemetry.tracing import tracing_active


def tracing_interceptors() -> list[Interceptor]:
    """The SDK's OpenTelemetry interceptor while tracing is on: a workflow started inside a span
    (the processor's consumer span) runs its workflow and activity spans in the same trace. On
    the client, it applies to workers built from that client too."""
    if not tracing_active():
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


async def connect(address: str, namespace: str, runtime: Runtime | None = None) -> Client:
    """`runtime` carries the SDK's telemetry (`telemetry.temporal.temporal_metrics().runtime`);
    None means the SDK's default runtime, without metrics."""
    return await Client.connect(
        address, namespace=namespace, runtime=runtime, interceptors=tracing_interceptors()
    )
