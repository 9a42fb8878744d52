"""Connectors: add, list, change and remove a merchant's; credentials sealed, never returned.

The credentials' mode (a Stripe key's `_test_` or `_live_`) must be the mode of the API key
that manages them: a test key never reaches live money, and a live key never test credentials.
"""

import json
import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from payments_core.connectors.models import Connector
from payments_core.connectors.schemas import ConnectorCreate, ConnectorUpdate, StripeCredentials
from payments_core.db.columns import utcnow
from payments_core.db.queries import paginate_newest_first
from payments_core.errors import InvalidRequest, NotFound
from payments_core.pagination import Page, PageRequest, page_from_rows
from payments_core.secret import Secret
from payments_core.webhooks.secret_box import SecretBox


async def create(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    key_mode: str,
    request: ConnectorCreate,
    *,
    box: SecretBox,
) -> Connector:
    _require_mode(request.credentials, key_mode)
    connector = Connector(
        merchant_id=merchant_id,
        type=request.type,
        priority=request.priority,
        enabled=request.enabled,
        mode=request.credentials.mode,
        credentials_sealed="",
        credentials_last4="",
    )
    _seal(connector, request.credentials, box)
    session.add(connector)
    await session.flush()
    return connector


async def get(session: AsyncSession, merchant_id: uuid.UUID, connector_id: uuid.UUID) -> Connector:
    statement = select(Connector).where(
        col(Connector.id) == connector_id,
        col(Connector.merchant_id) == merchant_id,
        col(Connector.deleted_at).is_(None),
    )
    connector = (await session.execute(statement)).scalar_one_or_none()
    if connector is None:
        raise NotFound(f"no connector with id {connector_id}", param="id")
    return connector


async def list_page(
    session: AsyncSession, merchant_id: uuid.UUID, page: PageRequest
) -> Page[Connector]:
    owned = select(Connector).where(
        col(Connector.merchant_id) == merchant_id, col(Connector.deleted_at).is_(None)
    )
    statement = paginate_newest_first(owned, Connector, page)
    return page_from_rows(list((await session.execute(statement)).scalars()), page)


async def update(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    key_mode: str,
    connector_id: uuid.UUID,
    request: ConnectorUpdate,
    *,
    box: SecretBox,
) -> Connector:
    connector = await get(session, merchant_id, connector_id)
    if request.credentials is not None:
        _require_mode(request.credentials, key_mode)
        connector.mode = request.credentials.mode
        _seal(connector, request.credentials, box)
    if request.priority is not None:
        connector.priority = request.priority
    if request.enabled is not None:
        connector.enabled = request.enabled
    connector.updated_at = utcnow()
    await session.flush()
    return connector


async def delete(
    session: AsyncSession, merchant_id: uuid.UUID, connector_id: uuid.UUID
) -> Connector:
    """Removed for good from the merchant's view and from routing; the row stays, as payments
    routed to it will name it."""
    connector = await get(session, merchant_id, connector_id)
    connector.deleted_at = connector.updated_at = utcnow()
    connector.enabled = False
    await session.flush()
    return connector


def credentials(connector: Connector, box: SecretBox) -> StripeCredentials:
    """The connector's credentials, opened for a call to its processor (never for a response)."""
    opened: Secret = box.open(connector.credentials_sealed, bound_to=str(connector.id))
    return StripeCredentials.model_validate(json.loads(opened.reveal()))


def _seal(connector: Connector, given: StripeCredentials, box: SecretBox) -> None:
    document = json.dumps(given.model_dump(mode="json", exclude_none=True))
    connector.credentials_sealed = box.seal(document, bound_to=str(connector.id))
    connector.credentials_last4 = given.secret_key[-4:]


def _require_mode(given: StripeCredentials, key_mode: str) -> None:
    if given.mode != key_mode:
        raise InvalidRequest(
            f"{given.mode} credentials cannot be used with a {key_mode} API key",
            param="credentials.secretKey",
            code="connector_mode_mismatch",
        )
