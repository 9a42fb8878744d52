"""The processor's notices: `POST /connectors/{id}/webhooks` (public, no API key).

The connector's webhook secret is the credential: `Stripe-Signature` is verified over the raw
body before anything else is read. A verified notice is kept once per event id and answered 2xx
(a duplicate too, so the processor stops retrying); the worker's reconciler settles its payment
by asking the processor (payments_core/connectors/notices.py). Never logged: the secret, the body.
"""

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from payments_api.deps import SessionDep, StateDep, parse_id
from payments_api.responses import error_responses
from payments_core.connectors import notices

router = APIRouter(tags=["connectors"])
log = structlog.get_logger()


class NoticeReceived(BaseModel):
    received: bool
    duplicate: bool


@router.post(
    "/connectors/{connector_id}/webhooks",
    summary="The processor's asynchronous notices (signed with the connector's webhook secret)",
    response_model=NoticeReceived,
    responses=error_responses(),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def receive_notice(
    connector_id: str,
    request: Request,
    state: StateDep,
    session: SessionDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> dict[str, Any]:
    connector = await notices.connector_for_notices(session, parse_id(connector_id, "connector"))
    body = await request.body()
    notice = notices.verified(connector, state.connector_box, body, stripe_signature)
    duplicate = await notices.record(session, connector, notice)
    await session.commit()
    log.info(
        "api.connector_notice",
        connector_id=str(connector.id),
        event_id=notice.event_id,
        type=notice.type,
        duplicate=duplicate,
    )
    return {"received": True, "duplicate": duplicate}
