"""Fallback: a payment whose connector failed before any money was held there moves on to the
next connector by priority (routing.after).

"Before any money was held" is the caller's to establish: the connector was never reached (a
GatewayUnreachable authorization), or whatever it did under the authorization's key was voided.
The move happens under the payment's row lock and is idempotent: a repeat, named by the
connector it moves from, finds the payment already moved and answers where it went.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.connectors import routing
from payments_core.connectors.models import Connector
from payments_core.db.columns import utcnow
from payments_core.errors import InvalidState
from payments_core.payments import transitions
from payments_core.payments.status import PaymentStatus, PaymentStep

# Where a fallback may start: the authorization never reached the connector, or it was voided.
NOTHING_HELD = frozenset({PaymentStep.AUTHORIZING.value, PaymentStep.VOIDED.value})


async def fall_back(
    session: AsyncSession, payment_id: uuid.UUID, from_connector_id: uuid.UUID, reason: str
) -> uuid.UUID | None:
    """The connector the payment goes to now, None when there is none left (the caller then
    fails the payment). The step is cleared, so the next authorization starts afresh."""
    payment = await transitions.lock(session, payment_id)
    if payment.connector_id != from_connector_id:
        return payment.connector_id  # moved already: this is a repeat
    if payment.status != PaymentStatus.PROCESSING or payment.processing_step not in NOTHING_HELD:
        raise InvalidState(
            f"payment {payment_id} cannot fall back from step {payment.processing_step} "
            f"({payment.status})",
            code="fallback_not_allowed",
        )
    current = await session.get(Connector, from_connector_id)
    assert current is not None  # payments.connector_id is a foreign key
    route = await routing.after(session, current, payment.payment_method_id)
    next_id = route.connector.id if route.connector is not None else None
    for connector, why in [
        (current, reason),
        *((skipped, routing.NOT_TOKENIZED) for skipped in route.passed_over),
    ]:
        routing.passed_over(
            connector.id, connector.type, why, payment_id=payment_id, next_connector_id=next_id
        )
    if route.connector is None:
        return None
    payment.connector_id = route.connector.id
    payment.connector_type = route.connector.type
    payment.processing_step = None
    payment.gateway_reference = None
    payment.updated_at = utcnow()
    await session.flush()
    return route.connector.id
