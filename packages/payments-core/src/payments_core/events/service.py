"""Redelivery as the events API offers it: check what the merchant named, queue, report."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.errors import InvalidState, NotFound
from payments_core.events import repository
from payments_core.events.repository import DeliveryRecord
from payments_core.webhooks import deliveries, endpoints


async def redeliver(
    session: AsyncSession, merchant_id: uuid.UUID, event_id: str, endpoint_id: uuid.UUID | None
) -> list[DeliveryRecord]:
    """Queue the event again (for its matching endpoints, or the one named) and return the
    queued deliveries, due now; an empty list when no enabled endpoint takes the event."""
    await repository.get(session, merchant_id, event_id)
    if endpoint_id is not None:
        await _own_endpoint(session, merchant_id, endpoint_id)
    queued = set(await deliveries.redeliver(session, merchant_id, event_id, endpoint_id))
    records = await repository.deliveries(session, event_id)
    return [record for record in records if record.delivery.id in queued]


async def _own_endpoint(
    session: AsyncSession, merchant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> None:
    # The endpoint comes in the body as endpointId, so the 404 names that field, not the path's.
    try:
        endpoint = await endpoints.get(session, merchant_id, endpoint_id)
    except NotFound:
        raise NotFound(f"no webhook endpoint with id {endpoint_id}", param="endpointId") from None
    if endpoint.disabled:
        raise InvalidState("the webhook endpoint is disabled; enable it first", param="endpointId")
