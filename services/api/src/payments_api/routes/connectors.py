"""The calling merchant's connectors: its own processor accounts (credentials never returned)."""

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from payments_api.deps import CurrentMerchant, PageDep, SessionDep, StateDep, parse_id
from payments_api.idempotent import IdempotencyKeyHeader, run_idempotent
from payments_api.responses import Envelope, ListEnvelope, error_responses, page_body, success
from payments_core.connectors import service as connectors
from payments_core.connectors.schemas import ConnectorCreate, ConnectorOut, ConnectorUpdate

router = APIRouter(tags=["connectors"])

WHAT = "connector"


@router.post(
    "/connectors",
    status_code=201,
    summary="Add a processor account (credentials are sealed and never shown again)",
    response_model=Envelope[ConnectorOut],
    responses=error_responses(409, 422),
)
async def create_connector(
    body: ConnectorCreate,
    request: Request,
    principal: CurrentMerchant,
    state: StateDep,
    session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def work() -> tuple[int, dict[str, Any]]:
        connector = await connectors.create(
            session, principal.id, principal.api_key.mode, body, box=state.connector_box
        )
        data = ConnectorOut.model_validate(connector).to_json()
        return 201, success(data, "Connector created successfully", 201)

    return await run_idempotent(request, state, session, principal.id, idempotency_key, work)


@router.get(
    "/connectors",
    summary="List connectors, newest first",
    response_model=ListEnvelope[ConnectorOut],
    responses=error_responses(),
)
async def list_connectors(
    principal: CurrentMerchant, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    result = await connectors.list_page(session, principal.id, page)
    items = [ConnectorOut.model_validate(connector).to_json() for connector in result.items]
    return page_body(result, items, "Connectors retrieved successfully")


@router.get(
    "/connectors/{connector_id}",
    summary="Get a connector",
    response_model=Envelope[ConnectorOut],
    responses=error_responses(),
)
async def get_connector(
    connector_id: str, principal: CurrentMerchant, session: SessionDep
) -> dict[str, Any]:
    connector = await connectors.get(session, principal.id, parse_id(connector_id, WHAT))
    return success(ConnectorOut.model_validate(connector).to_json(), "Connector retrieved")


@router.patch(
    "/connectors/{connector_id}",
    summary="Change a connector's priority, enabled flag or credentials",
    response_model=Envelope[ConnectorOut],
    responses=error_responses(),
)
async def update_connector(
    connector_id: str,
    body: ConnectorUpdate,
    principal: CurrentMerchant,
    state: StateDep,
    session: SessionDep,
) -> dict[str, Any]:
    connector = await connectors.update(
        session,
        principal.id,
        principal.api_key.mode,
        parse_id(connector_id, WHAT),
        body,
        box=state.connector_box,
    )
    data = ConnectorOut.model_validate(connector).to_json()
    await session.commit()
    return success(data, "Connector updated successfully")


@router.delete(
    "/connectors/{connector_id}",
    summary="Remove a connector (payments stop being routed to it)",
    response_model=Envelope[ConnectorOut],
    responses=error_responses(),
)
async def delete_connector(
    connector_id: str, principal: CurrentMerchant, session: SessionDep
) -> dict[str, Any]:
    connector = await connectors.delete(session, principal.id, parse_id(connector_id, WHAT))
    data = ConnectorOut.model_validate(connector).to_json()
    await session.commit()
    return success(data, "Connector deleted successfully")
