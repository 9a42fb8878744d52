"""Webhook endpoints: register, change, rotate the secret of, and delete a merchant's."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from payments_core.db.columns import utcnow
from payments_core.db.queries import paginate_newest_first
from payments_core.errors import InvalidRequest, NotFound
from payments_core.pagination import Page, PageRequest, page_from_rows
from payments_core.secret import Secret
from payments_core.webhooks.models import WebhookDelivery, WebhookEndpoint
from payments_core.webhooks.schemas import WebhookEndpointCreate, WebhookEndpointUpdate
from payments_core.webhooks.secret_box import SecretBox
from payments_core.webhooks.signing import generate_secret
from payments_core.webhooks.ssrf import vet_webhook_url
from payments_core.webhooks.status import DeliveryStatus, DisabledReason

ROTATION_GRACE = timedelta(hours=24)
# A registration waits this long for the URL's name to resolve: a merchant's slow DNS server
# must not hold an API request (and its database connection) for the resolver's full timeout.
REGISTRATION_RESOLVE_SECONDS = 5.0


async def check_url(url: str, *, allow_private: bool) -> None:
    """400 unless the URL may receive webhooks (the sender checks again at every attempt)."""
    try:
        async with asyncio.timeout(REGISTRATION_RESOLVE_SECONDS):
            await vet_webhook_url(url, allow_private=allow_private)
    except TimeoutError:
        raise InvalidRequest(
            "url host does not resolve", param="url", code="url_unresolvable"
        ) from None


async def create(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    request: WebhookEndpointCreate,
    *,
    box: SecretBox,
    allow_private: bool,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret, whose plaintext is returned this once."""
    await check_url(request.url, allow_private=allow_private)
    return await add_checked(session, merchant_id, request, box=box)


async def add_checked(
    session: AsyncSession, merchant_id: uuid.UUID, request: WebhookEndpointCreate, *, box: SecretBox
) -> tuple[WebhookEndpoint, str]:
    """`create` for a caller that has already passed the URL through `check_url` (onboarding
    checks it before it writes anything)."""
    endpoint_id = uuid.uuid4()
    secret = generate_secret()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        merchant_id=merchant_id,
        url=request.url,
        description=request.description,
        enabled_events=request.enabled_events,
        secret_sealed=box.seal(secret, bound_to=str(endpoint_id)),
    )
    session.add(endpoint)
    await session.flush()
    return endpoint, secret


async def get(
    session: AsyncSession, merchant_id: uuid.UUID, endpoint_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint:
    statement = select(WebhookEndpoint).where(
        col(WebhookEndpoint.id) == endpoint_id,
        col(WebhookEndpoint.merchant_id) == merchant_id,
        col(WebhookEndpoint.deleted_at).is_(None),
    )
    if lock:
        await session.flush()
        statement = statement.with_for_update().execution_options(populate_existing=True)
    endpoint = (await session.execute(statement)).scalar_one_or_none()
    if endpoint is None:
        raise NotFound(f"no webhook endpoint with id {endpoint_id}", param="id")
    return endpoint


async def list_page(
    session: AsyncSession, merchant_id: uuid.UUID, page: PageRequest
) -> Page[WebhookEndpoint]:
    owned = select(WebhookEndpoint).where(
        col(WebhookEndpoint.merchant_id) == merchant_id,
        col(WebhookEndpoint.deleted_at).is_(None),
    )
    statement = paginate_newest_first(owned, WebhookEndpoint, page)
    return page_from_rows(list((await session.execute(statement)).scalars()), page)


async def change(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    request: WebhookEndpointUpdate,
    *,
    allow_private: bool,
) -> WebhookEndpoint:
    endpoint = await get(session, merchant_id, endpoint_id, lock=True)
    if request.url is not None:
        await check_url(request.url, allow_private=allow_private)
        endpoint.url = request.url
    if request.enabled_events is not None:
        endpoint.enabled_events = request.enabled_events
    if "description" in request.model_fields_set:
        endpoint.description = request.description
    if request.disabled is not None:
        endpoint.disabled = request.disabled
        endpoint.disabled_reason = DisabledReason.MERCHANT.value if request.disabled else None
    endpoint.updated_at = utcnow()
    await session.flush()
    return endpoint


async def delete(
    session: AsyncSession, merchant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    """Hide the endpoint and end its pending deliveries; their history stays under the events."""
    endpoint = await get(session, merchant_id, endpoint_id, lock=True)
    now = utcnow()
    endpoint.deleted_at = now
    endpoint.updated_at = now
    await session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.endpoint_id) == endpoint.id,
            col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
        )
        .values(
            status=DeliveryStatus.FAILED.value,
            last_error="endpoint deleted",
            completed_at=now,
            next_attempt_at=None,
            lease_token=None,
            updated_at=now,
        )
    )
    await session.flush()
    return endpoint


async def rotate_secret(
    session: AsyncSession, merchant_id: uuid.UUID, endpoint_id: uuid.UUID, *, box: SecretBox
) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned once); the current one keeps signing beside it for 24 h."""
    endpoint = await get(session, merchant_id, endpoint_id, lock=True)
    secret = generate_secret()
    now = utcnow()
    endpoint.previous_secret_sealed = endpoint.secret_sealed
    endpoint.previous_secret_expires_at = now + ROTATION_GRACE
    endpoint.secret_sealed = box.seal(secret, bound_to=str(endpoint.id))
    endpoint.updated_at = now
    await session.flush()
    return endpoint, secret


def live_secrets(
    endpoint_id: uuid.UUID,
    secret_sealed: str,
    previous_sealed: str | None,
    previous_expires_at: datetime | None,
    *,
    box: SecretBox,
    now: datetime | None = None,
) -> list[Secret]:
    """The secrets a delivery is signed with now: the current one, and the previous one until
    its grace period ends."""
    bound_to = str(endpoint_id)
    secrets = [box.open(secret_sealed, bound_to=bound_to)]
    moment = now or datetime.now(UTC)
    if previous_sealed and previous_expires_at and previous_expires_at > moment:
        secrets.append(box.open(previous_sealed, bound_to=bound_to))
    return secrets
