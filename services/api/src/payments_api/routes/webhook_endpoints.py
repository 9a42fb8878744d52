"""Webhook endpoints of the calling merchant; the secret is shown only on create and rotate."""

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from payments_api.deps import CurrentMerchant, PageDep, SessionDep, StateDep, parse_id
from payments_api.idempotent import IdempotencyKeyHeader, run_idempotent
from payments_api.responses import Envelope, ListEnvelope, error_responses, page_body, success
from payments_core.webhooks import endpoints
from payments_core.webhooks.models import WebhookEndpoint
from payments_core.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecretOut,
)

router = APIRouter(tags=["webhook endpoints"])

WHAT = "webhook endpoint"


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> dict[str, Any]:
    fields = WebhookEndpointOut.of(endpoint).model_dump()
    return WebhookEndpointWithSecretOut(**fields, secret=secret).to_json()


@router.post(
    "/webhook-endpoints",
    status_code=201,
    summary="Register a webhook endpoint (its whsec_ secret is shown once)",
    response_model=Envelope[WebhookEndpointWithSecretOut],
    responses=error_responses(409, 422),
)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate,
    request: Request,
    principal: CurrentMerchant,
    state: StateDep,
    session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def work() -> tuple[int, dict[str, Any]]:
        endpoint, secret = await endpoints.create(
            session,
            principal.id,
            body,
            box=state.secret_box,
            allow_private=state.settings.webhook_allow_private_urls,
        )
        data = _with_secret(endpoint, secret)
        return 201, success(data, "Webhook endpoint created successfully", 201)

    return await run_idempotent(request, state, session, principal.id, idempotency_key, work)


@router.get(
    "/webhook-endpoints",
    summary="List webhook endpoints, newest first",
    response_model=ListEnvelope[WebhookEndpointOut],
    responses=error_responses(),
)
async def list_webhook_endpoints(
    principal: CurrentMerchant, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    result = await endpoints.list_page(session, principal.id, page)
    items = [WebhookEndpointOut.of(endpoint).to_json() for endpoint in result.items]
    return page_body(result, items, "Webhook endpoints retrieved successfully")


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    summary="Get a webhook endpoint",
    response_model=Envelope[WebhookEndpointOut],
    responses=error_responses(),
)
async def get_webhook_endpoint(
    endpoint_id: str, principal: CurrentMerchant, session: SessionDep
) -> dict[str, Any]:
    endpoint = await endpoints.get(session, principal.id, parse_id(endpoint_id, WHAT))
    data = WebhookEndpointOut.of(endpoint).to_json()
    return success(data, "Webhook endpoint retrieved successfully")


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    summary="Change a webhook endpoint's url, enabledEvents, description, or disable/enable it",
    response_model=Envelope[WebhookEndpointOut],
    responses=error_responses(),
)
async def update_webhook_endpoint(
    endpoint_id: str,
    body: WebhookEndpointUpdate,
    principal: CurrentMerchant,
    state: StateDep,
    session: SessionDep,
) -> dict[str, Any]:
    endpoint = await endpoints.change(
        session,
        principal.id,
        parse_id(endpoint_id, WHAT),
        body,
        allow_private=state.settings.webhook_allow_private_urls,
    )
    data = WebhookEndpointOut.of(endpoint).to_json()
    await session.commit()
    return success(data, "Webhook endpoint updated successfully")


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    summary="Delete a webhook endpoint (its pending deliveries fail; their history stays)",
    response_model=Envelope[WebhookEndpointOut],
    responses=error_responses(),
)
async def delete_webhook_endpoint(
    endpoint_id: str, principal: CurrentMerchant, session: SessionDep
) -> dict[str, Any]:
    endpoint = await endpoints.delete(session, principal.id, parse_id(endpoint_id, WHAT))
    data = WebhookEndpointOut.of(endpoint).to_json()
    await session.commit()
    return success(data, "Webhook endpoint deleted successfully")


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    summary="Rotate the secret (the new one is shown once; the old one also signs for 24 h)",
    response_model=Envelope[WebhookEndpointWithSecretOut],
    responses=error_responses(409, 422),
)
async def rotate_webhook_secret(
    endpoint_id: str,
    request: Request,
    principal: CurrentMerchant,
    state: StateDep,
    session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    parsed_id = parse_id(endpoint_id, WHAT)

    async def work() -> tuple[int, dict[str, Any]]:
        endpoint, secret = await endpoints.rotate_secret(
            session, principal.id, parsed_id, box=state.secret_box
        )
        return 200, success(_with_secret(endpoint, secret), "Webhook secret rotated successfully")

    return await run_idempotent(request, state, session, principal.id, idempotency_key, work)
