"""Helpers for the webhook endpoint and events API tests: endpoints, events and deliveries.

The tests run without outside network, so a URL the guard accepts has a public IP literal for its
host (resolved without DNS); nothing is ever sent to it, since no sender runs in these tests.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_api.app import create_app
from payments_core.db.engine import create_session_factory
from payments_core.db.session import transaction
from payments_core.events.envelope import Event, EventType
from payments_core.outbox.writer import add_event
from payments_core.webhooks import deliveries
from tests.api.support import MerchantFixture, api_settings, running_client

PUBLIC_URL = "https://93.184.215.14/webhooks"
OTHER_PUBLIC_URL = "https://8.8.8.8:8443/hooks"


@asynccontextmanager
async def local_development_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An API with WEBHOOK_ALLOW_PRIVATE_URLS=true, as `make up` runs it."""
    settings = api_settings(database_url, webhook_allow_private_urls=True)
    async with running_client(create_app(settings)) as client:
        yield client


async def create_endpoint(
    client: httpx.AsyncClient, merchant: MerchantFixture, **fields: Any
) -> dict[str, Any]:
    body = {"url": PUBLIC_URL, **fields}
    response = await client.post("/webhook-endpoints", json=body, headers=merchant.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def add_events(
    engine: AsyncEngine,
    merchant: MerchantFixture,
    types: list[EventType],
    *,
    start: datetime | None = None,
) -> list[str]:
    """Outbox rows for `merchant`, one second apart in the order given (the last is newest)."""
    moment = start or datetime.now(UTC) - timedelta(minutes=5)
    staged = [
        Event(
            id=f"evt_{uuid.uuid4().hex}",
            type=event_type,
            timestamp=moment + timedelta(seconds=index),
            merchant_id=uuid.UUID(merchant.id),
            data={"payment": {"id": str(uuid.uuid4()), "amount": 1000 + index}},
        )
        for index, event_type in enumerate(types)
    ]
    async with transaction(create_session_factory(engine)) as session:
        for event in staged:
            add_event(session, event)
    return [event.id for event in staged]


async def enqueue(engine: AsyncEngine, event_id: str) -> int:
    """The deliveries the sender's intake would create for the event."""
    async with transaction(create_session_factory(engine)) as session:
        return await deliveries.enqueue_for_event(session, event_id)


async def finish_delivery(
    engine: AsyncEngine, event_id: str, endpoint_id: str, attempts: list[int | None]
) -> str:
    """Record `attempts` (status codes; None for no answer) and end the delivery as the sender
    would: succeeded after a 2xx, failed otherwise."""
    succeeded = attempts[-1] is not None and 200 <= attempts[-1] < 300
    async with engine.begin() as connection:
        delivery_id = (
            await connection.execute(
                text(
                    "UPDATE webhook_deliveries SET status = :status, attempt_count = :count,"
                    " retries_used = :count - 1, last_status_code = :code,"
                    " next_attempt_at = NULL, completed_at = now()"
                    " WHERE event_id = :event AND endpoint_id = :endpoint RETURNING id"
                ),
                {
                    "status": "succeeded" if succeeded else "failed",
                    "count": len(attempts),
                    "code": attempts[-1],
                    "event": event_id,
                    "endpoint": endpoint_id,
                },
            )
        ).scalar_one()
        for number, code in enumerate(attempts, start=1):
            await connection.execute(
                text(
                    "INSERT INTO webhook_attempts"
                    " (id, delivery_id, attempt_number, status_code, duration_ms, error)"
                    " VALUES (gen_random_uuid(), :delivery, :number, :code, :ms, :error)"
                ),
                {
                    "delivery": delivery_id,
                    "number": number,
                    "code": code,
                    "ms": 10 * number,
                    "error": None if code is not None else "timeout: no answer within 10 s",
                },
            )
    return str(delivery_id)


async def delivery_row(engine: AsyncEngine, delivery_id: str) -> dict[str, Any]:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT status, next_attempt_at, retries_used, attempt_count, completed_at,"
                    " next_attempt_at <= now() AS due FROM webhook_deliveries WHERE id = :id"
                ),
                {"id": delivery_id},
            )
        ).one()
    return dict(row._mapping)
