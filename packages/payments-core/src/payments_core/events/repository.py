"""The event log a merchant reads: the outbox rows, which are never deleted, with deliveries."""

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from payments_core.db.queries import paginate_newest_first
from payments_core.errors import NotFound
from payments_core.outbox.models import OutboxMessage
from payments_core.pagination import Page, PageRequest, page_from_rows
from payments_core.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

# Event ids are `evt_` and 32 hex digits (`new_event_id`); the column holds at most 40 characters.
_EVENT_ID = re.compile(r"evt_[0-9A-Za-z]{1,36}")


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    delivery: WebhookDelivery
    url: str
    attempts: list[WebhookAttempt]


async def list_page(
    session: AsyncSession, merchant_id: uuid.UUID, page: PageRequest, event_type: str | None
) -> Page[OutboxMessage]:
    owned = select(OutboxMessage).where(col(OutboxMessage.merchant_id) == merchant_id)
    if event_type is not None:
        owned = owned.where(col(OutboxMessage.event_type) == event_type)
    statement = paginate_newest_first(owned, OutboxMessage, page)
    return page_from_rows(list((await session.execute(statement)).scalars()), page)


async def get(session: AsyncSession, merchant_id: uuid.UUID, event_id: str) -> OutboxMessage:
    """The merchant's event; a malformed id is as missing as another merchant's (never a query
    error: a NUL byte, say, would be one)."""
    event = await session.get(OutboxMessage, event_id) if _EVENT_ID.fullmatch(event_id) else None
    if event is None or event.merchant_id != merchant_id:
        raise NotFound(f"no event with id {event_id[:64]}", param="id")
    return event


async def deliveries(session: AsyncSession, event_id: str) -> list[DeliveryRecord]:
    """The event's deliveries, oldest first, each with its attempts in order."""
    rows = (
        await session.execute(
            select(WebhookDelivery, WebhookEndpoint.url)
            .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
            .where(col(WebhookDelivery.event_id) == event_id)
            .order_by(col(WebhookDelivery.created_at), col(WebhookDelivery.id))
            # Redelivery changes these rows with plain SQL: read them fresh, not from the session.
            .execution_options(populate_existing=True)
        )
    ).all()
    ids = [delivery.id for delivery, _ in rows]
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in ids}
    if ids:
        found = await session.execute(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(ids))
            .order_by(col(WebhookAttempt.attempt_number))
        )
        for attempt in found.scalars():
            attempts[attempt.delivery_id].append(attempt)
    return [DeliveryRecord(delivery, url, attempts[delivery.id]) for delivery, url in rows]
