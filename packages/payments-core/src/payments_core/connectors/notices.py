"""A processor's asynchronous notices (Stripe events), taken at `POST /connectors/{id}/webhooks`.

The route is public: the connector's webhook secret is the credential (`Stripe-Signature`,
verified over the raw body, 300 s tolerance). A notice is only a hint: it is kept once per
(connector, event id) and names a payment only when that payment is this connector's merchant's
and was routed to this connector. The worker's reconciler takes the kept notices and settles
their payments by asking the processor (reconciler/notices.py); nothing here moves money or a
payment's state, and the notice's own content is never trusted for either.
"""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from payments_core.connectors.models import Connector, ConnectorNotice
from payments_core.connectors.service import credentials
from payments_core.errors import InvalidRequest, NotFound
from payments_core.gateway.stripe.signature import SignatureInvalid, verify
from payments_core.payments.models import Payment
from payments_core.webhooks.secret_box import SecretBox

SIGNATURE_HEADER = "Stripe-Signature"
EVENT_ID_MAX = 255
TYPE_MAX = 100


@dataclass(frozen=True)
class Notice:
    event_id: str
    type: str
    # As the processor's object names it (metadata.payment_id); checked before it is kept.
    payment_id: uuid.UUID | None


async def connector_for_notices(session: AsyncSession, connector_id: uuid.UUID) -> Connector:
    """Any merchant's connector, unless removed: the signature, not an API key, says who calls."""
    statement = select(Connector).where(
        col(Connector.id) == connector_id, col(Connector.deleted_at).is_(None)
    )
    connector = (await session.execute(statement)).scalar_one_or_none()
    if connector is None:
        raise NotFound(f"no connector with id {connector_id}", param="id")
    return connector


def verified(connector: Connector, box: SecretBox, body: bytes, header: str | None) -> Notice:
    """The notice in `body` when `header` signs it with the connector's webhook secret now;
    InvalidRequest (400) otherwise. Neither the secret nor the body is ever put in an error."""
    secret = credentials(connector, box).webhook_secret
    if not secret:
        raise InvalidRequest(
            "this connector has no webhook secret: set credentials.webhookSecret first",
            code="webhook_secret_not_configured",
        )
    try:
        verify(body, header, secret)
    except SignatureInvalid as error:
        raise InvalidRequest(
            f"the {SIGNATURE_HEADER} header does not verify: {error}",
            param=SIGNATURE_HEADER,
            code="signature_verification_failed",
        ) from None
    return parse(body)


def parse(body: bytes) -> Notice:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the notice is not JSON", code="invalid_notice") from None
    if not isinstance(event, dict):
        raise InvalidRequest("the notice is not a JSON object", code="invalid_notice")
    event_id, event_type = event.get("id"), event.get("type")
    if not _text(event_id, EVENT_ID_MAX) or not _text(event_type, TYPE_MAX):
        raise InvalidRequest("the notice has no usable id or type", code="invalid_notice")
    return Notice(str(event_id), str(event_type), _payment_id(event.get("data")))


async def record(session: AsyncSession, connector: Connector, notice: Notice) -> bool:
    """Keep the notice once per (connector, event id); True when it was already kept. The
    payment is named only if it is the connector's merchant's and was routed to it."""
    payment_id = None
    if notice.payment_id is not None:
        owned = select(col(Payment.id)).where(
            col(Payment.id) == notice.payment_id,
            col(Payment.merchant_id) == connector.merchant_id,
            col(Payment.connector_id) == connector.id,
        )
        payment_id = (await session.execute(owned)).scalar_one_or_none()
    statement = (
        insert(ConnectorNotice)
        .values(
            id=uuid.uuid4(),
            connector_id=connector.id,
            event_id=notice.event_id,
            type=notice.type,
            payment_id=payment_id,
        )
        .on_conflict_do_nothing(constraint="uq_connector_notices_event")
        .returning(col(ConnectorNotice.id))
    )
    inserted = (await session.execute(statement)).scalar_one_or_none()
    return inserted is None


def _payment_id(data: Any) -> uuid.UUID | None:
    """A PaymentIntent carries our payment id in its metadata (StripeConnector.authorize); a
    charge or refund names only its PaymentIntent, whose metadata is not in the notice."""
    obj = data.get("object") if isinstance(data, dict) else None
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    value = metadata.get("payment_id") if isinstance(metadata, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit
