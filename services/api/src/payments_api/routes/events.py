"""The calling merchant's events (the envelopes webhooks carry), their deliveries, redelivery.

Event ids are `evt_…` strings, not UUIDs; the repository answers a malformed one with 404.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from payments_api.deps import CurrentMerchant, PageDep, SessionDep, StateDep
from payments_api.idempotent import IdempotencyKeyHeader, run_idempotent
from payments_api.responses import Envelope, ListEnvelope, error_responses, page_body, success
from payments_core.events import repository as events
from payments_core.events import service
from payments_core.events.envelope import EventType
from payments_core.events.repository import DeliveryRecord
from payments_core.webhooks.schemas import (
    EventOut,
    EventWithDeliveriesOut,
    RedeliverRequest,
    RedeliveryOut,
    WebhookDeliveryOut,
)

router = APIRouter(tags=["events"])


def _delivery_out(record: DeliveryRecord) -> WebhookDeliveryOut:
    return WebhookDeliveryOut.of(record.delivery, record.url, record.attempts)


@router.get(
    "/events",
    summary="List events, newest first (filter by type)",
    response_model=ListEnvelope[EventOut],
    responses=error_responses(),
)
async def list_events(
    principal: CurrentMerchant,
    session: SessionDep,
    page: PageDep,
    event_type: Annotated[EventType | None, Query(alias="type")] = None,
) -> dict[str, Any]:
    type_value = event_type.value if event_type is not None else None
    result = await events.list_page(session, principal.id, page, type_value)
    items = [EventOut.of(event.payload).to_json() for event in result.items]
    return page_body(result, items, "Events retrieved successfully")


@router.get(
    "/events/{event_id}",
    summary="Get an event with its webhook deliveries and every attempt of each",
    response_model=Envelope[EventWithDeliveriesOut],
    responses=error_responses(),
)
async def get_event(
    event_id: str, principal: CurrentMerchant, session: SessionDep
) -> dict[str, Any]:
    event = await events.get(session, principal.id, event_id)
    records = await events.deliveries(session, event.id)
    data = EventWithDeliveriesOut(
        **EventOut.of(event.payload).model_dump(),
        deliveries=[_delivery_out(record) for record in records],
    )
    return success(data.to_json(), "Event retrieved successfully")


@router.post(
    "/events/{event_id}/redeliver",
    status_code=202,
    summary="Redeliver an event: 202 with {eventId, deliveries} (the queued deliveries)",
    description="Queues the event again for every enabled endpoint whose enabledEvents match, "
    "or only for `endpointId` (which must be enabled: 409 otherwise). Each queued delivery is "
    "`pending`, due now, its retry schedule started over, and keeps its attempts so far; "
    "`deliveries` is empty when no enabled endpoint takes the event.",
    response_model=Envelope[RedeliveryOut],
    responses=error_responses(409, 422),
)
async def redeliver_event(
    event_id: str,
    request: Request,
    principal: CurrentMerchant,
    state: StateDep,
    session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
    body: RedeliverRequest | None = None,
) -> JSONResponse:
    endpoint_id = body.endpoint_id if body is not None else None

    async def work() -> tuple[int, dict[str, Any]]:
        records = await service.redeliver(session, principal.id, event_id, endpoint_id)
        data = RedeliveryOut(
            event_id=event_id, deliveries=[_delivery_out(record) for record in records]
        )
        return 202, success(data.to_json(), "Event queued for redelivery", 202)

    return await run_idempotent(request, state, session, principal.id, idempotency_key, work)
