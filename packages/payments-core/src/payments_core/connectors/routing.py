"""Routing: a card payment goes to the merchant's enabled connectors in ascending priority
(ties: the older first), the sandbox when the merchant has none. Only connectors holding a token
of the card can take it (the number went to each one's vault at registration, never to ours);
one without is passed over, and so is one that failed before any money was held (a fallback).

Instruments without a card (bank transfers, wallets) stay with the sandbox: the Stripe connector
carries cards only.
"""

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from payments_core.connectors.models import Connector, ConnectorToken
from payments_core.telemetry.metrics import CONNECTOR_FALLBACKS

log = structlog.get_logger()

# Why a connector was passed over (the log line's and the metric's `reason`).
NOT_TOKENIZED = "not_tokenized"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a payment goes: `connector` None is the sandbox; `passed_over` are the connectors
    before it that could not take the card."""

    connector: Connector | None
    passed_over: tuple[Connector, ...] = ()


async def routable(session: AsyncSession, merchant_id: uuid.UUID, mode: str) -> list[Connector]:
    """The merchant's enabled connectors of this mode, in the order payments try them."""
    statement = (
        select(Connector)
        .where(
            col(Connector.merchant_id) == merchant_id,
            col(Connector.enabled).is_(True),
            col(Connector.deleted_at).is_(None),
            col(Connector.mode) == mode,
        )
        .order_by(col(Connector.priority), col(Connector.created_at), col(Connector.id))
    )
    return list((await session.execute(statement)).scalars())


async def after(session: AsyncSession, current: Connector, payment_method_id: uuid.UUID) -> Route:
    """The next connector after `current` by the same order; Route(None) when none is left (the
    payment then fails: it never falls back to the sandbox's pretend money)."""
    candidates = [
        connector
        for connector in await routable(session, current.merchant_id, current.mode)
        if (connector.priority, connector.created_at, connector.id)
        > (current.priority, current.created_at, current.id)
    ]
    return await _first_tokenized(session, candidates, payment_method_id)


async def token(
    session: AsyncSession, connector_id: uuid.UUID, payment_method_id: uuid.UUID
) -> str | None:
    found = await session.get(ConnectorToken, (payment_method_id, connector_id))
    return found.token if found is not None else None


async def _first_tokenized(
    session: AsyncSession, candidates: list[Connector], payment_method_id: uuid.UUID
) -> Route:
    if not candidates:
        return Route(None)
    statement = select(ConnectorToken.connector_id).where(
        col(ConnectorToken.payment_method_id) == payment_method_id,
        col(ConnectorToken.connector_id).in_([connector.id for connector in candidates]),
    )
    holding = set((await session.execute(statement)).scalars())
    passed: list[Connector] = []
    for connector in candidates:
        if connector.id in holding:
            return Route(connector, tuple(passed))
        passed.append(connector)
    return Route(None, tuple(passed))


def passed_over(
    connector_id: uuid.UUID,
    gateway: str,
    reason: str,
    *,
    payment_id: uuid.UUID | None = None,
    next_connector_id: uuid.UUID | None = None,
) -> None:
    """One connector passed over: the log line and the metric, wherever routing decided it (the
    API at creation, the worker's fallback)."""
    CONNECTOR_FALLBACKS.labels(gateway, reason).inc()
    log.warning(
        "payment.connector_passed_over",
        payment_id=str(payment_id) if payment_id else None,
        connector_id=str(connector_id),
        gateway=gateway,
        reason=reason,
        next_connector_id=str(next_connector_id) if next_connector_id else None,
    )
