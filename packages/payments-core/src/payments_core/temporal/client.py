"""Connecting to Temporal from settings (the dev server locally, Temporal Cloud or a cluster)."""

from temporalio.client import Client
from temporalio.runtime import Runtime


async def connect(address: str, namespace: str, runtime: Runtime | None = None) -> Client:
    """`runtime` carries the SDK's telemetry (`telemetry.temporal.temporal_metrics().runtime`);
    None means the SDK's default runtime, without metrics."""
    return await Client.connect(address, namespace=namespace, runtime=runtime)
