"""Connecting to Temporal from settings (the dev server locally, Temporal Cloud or a cluster)."""

from temporalio.client import Client


async def connect(address: str, namespace: str) -> Client:
    return await Client.connect(address, namespace=namespace)
