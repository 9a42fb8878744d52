"""SQL for payments; every read is scoped to the owning merchant."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments_core.db.driver import DriverConnection, fetch, fetchrow
from payments_core.db.queries import paginate_newest_first
from payments_core.events.envelope import Event
from payments_core.idempotency.direct import ResponseToStore
from payments_core.pagination import Page, PageRequest, page_from_rows
from payments_core.payments.models import Payment
from payments_core.payments.schemas import PaymentFilters, PaymentOut
from payments_core.telemetry.tracing import current_traceparent

# One statement (so one implicit transaction, no BEGIN/COMMIT round trips), run on every
# create-payment (db/driver.py): the payment, only if the payment method is the merchant's active
# one and the request still holds its Idempotency-Key (its claim's token, locked: a takeover
# waits for this statement, or this statement finds the new token and writes nothing); its
# outbox row (whose trigger NOTIFYs the relay) and the request's response on its key (none
# without a key), only if the payment was inserted.
_INSERT_WITH_EVENT = """
    WITH claim AS MATERIALIZED (
        SELECT id FROM idempotency_keys
        WHERE merchant_id IS NOT DISTINCT FROM $17 AND key = $18 AND claim_token = $21
        FOR UPDATE
    ), held AS (
        SELECT $21::uuid IS NULL OR EXISTS (SELECT FROM claim) AS held
    ), method AS (
        SELECT id FROM payment_methods
        WHERE id = $3 AND merchant_id = $2 AND is_active AND (SELECT held FROM held)
    ), payment AS (
        INSERT INTO payments (id, merchant_id, payment_method_id, reference, merchant_reference,
                              amount, currency, status, description, metadata, amount_refunded,
                              created_at, updated_at, capture_method, authorization_expires_at,
                              return_url, connector_id, connector_type)
        SELECT $1, $2, method.id, $4, $5, $6, $7, $8, $9, $10::jsonb, 0, $11, $11, $22, $23, $24,
               $25, $26
        FROM method
        RETURNING id
    ), event AS (
        INSERT INTO outbox (id, event_type, merchant_id, payload, traceparent, created_at,
                            available_at, attempts)
        SELECT $12, $13, $2, $14::jsonb, $15, $16, $16, 0 FROM payment
    ), stored AS (
        UPDATE idempotency_keys
        SET response_status = $19, response_body = $20::jsonb, locked_at = NULL
        WHERE id = (SELECT id FROM claim) AND EXISTS (SELECT FROM payment)
    )
    SELECT (SELECT count(*) FROM payment) AS inserted, (SELECT held FROM held) AS claim_held
"""


# The merchant's enabled connectors of the key's mode, in routing order, and whether each holds
# a token of the payment method's card (CONTRACT.md: by ascending priority).
_ROUTE_CANDIDATES = """
    SELECT c.id, c.type, t.token IS NOT NULL AS tokenized
    FROM connectors c
    LEFT JOIN connector_tokens t ON t.connector_id = c.id AND t.payment_method_id = $2
    WHERE c.merchant_id = $1 AND c.enabled AND c.deleted_at IS NULL AND c.mode = $3
    ORDER BY c.priority, c.created_at, c.id
"""
_METHOD_TYPE = "SELECT type FROM payment_methods WHERE id = $2 AND merchant_id = $1"


@dataclass(frozen=True, slots=True)
class RouteCandidate:
    id: uuid.UUID
    type: str
    tokenized: bool


async def route_candidates(
    connection: DriverConnection, merchant_id: uuid.UUID, method_id: uuid.UUID, mode: str
) -> list[RouteCandidate]:
    rows = await fetch(connection, _ROUTE_CANDIDATES, merchant_id, method_id, mode)
    return [RouteCandidate(row["id"], row["type"], row["tokenized"]) for row in rows]


async def method_type(
    connection: DriverConnection, merchant_id: uuid.UUID, method_id: uuid.UUID
) -> str | None:
    row = await fetchrow(connection, _METHOD_TYPE, merchant_id, method_id)
    return str(row["type"]) if row is not None else None


@dataclass(frozen=True, slots=True)
class Inserted:
    payment: bool
    # False when the request's Idempotency-Key was taken over: then nothing was written.
    claim_held: bool


async def insert_with_event(
    connection: DriverConnection,
    payment: PaymentOut,
    event: Event,
    response: ResponseToStore,
    *,
    return_url: str | None = None,
) -> Inserted:
    """Insert the pending payment (every column decided by the caller, so the response and the
    event need no read back) and its event's outbox row, as `outbox.writer.add_event` stages one,
    and store `response`; or nothing when the payment method is not the merchant's active one,
    or when `response.claim_token` no longer holds its key. A taken merchant reference raises
    asyncpg's UniqueViolationError."""
    row = await fetchrow(
        connection,
        _INSERT_WITH_EVENT,
        payment.id, payment.merchant_id, payment.payment_method_id, payment.reference,
        payment.merchant_reference, payment.amount, payment.currency, payment.status,
        payment.description, json.dumps(payment.metadata), payment.created_at,
        event.id, event.type.value, json.dumps(event.envelope()), current_traceparent(),
        event.timestamp,
        response.merchant_id, response.key, response.status_code, response.body_json,
        response.claim_token, payment.capture_method, payment.authorization_expires_at,
        return_url, payment.connector.id, payment.connector.type,
    )  # fmt: skip
    assert row is not None  # the final SELECT has no FROM: always one row
    return Inserted(payment=row["inserted"] == 1, claim_held=row["claim_held"])


async def get_owned(
    session: AsyncSession, merchant_id: uuid.UUID, payment_id: uuid.UUID
) -> Payment | None:
    statement = select(Payment).where(
        col(Payment.id) == payment_id,
        col(Payment.merchant_id) == merchant_id,
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_by_reference(
    session: AsyncSession, merchant_id: uuid.UUID, reference: str
) -> Payment | None:
    """The system `PAY-…` reference first, then the merchant's own."""
    statement = (
        select(Payment)
        .where(
            col(Payment.merchant_id) == merchant_id,
            or_(col(Payment.reference) == reference, col(Payment.merchant_reference) == reference),
        )
        .order_by((col(Payment.reference) == reference).desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def merchant_reference_taken(
    session: AsyncSession, merchant_id: uuid.UUID, reference: str
) -> bool:
    statement = select(col(Payment.id)).where(
        col(Payment.merchant_id) == merchant_id,
        col(Payment.merchant_reference) == reference,
    )
    return (await session.execute(statement)).first() is not None


async def list_page(
    session: AsyncSession, merchant_id: uuid.UUID, filters: PaymentFilters, page: PageRequest
) -> Page[Payment]:
    statement = select(Payment).where(col(Payment.merchant_id) == merchant_id)
    if filters.status is not None:
        statement = statement.where(col(Payment.status) == filters.status.value)
    if filters.created_from is not None:
        statement = statement.where(col(Payment.created_at) >= filters.created_from)
    if filters.created_to is not None:
        statement = statement.where(col(Payment.created_at) <= filters.created_to)
    statement = paginate_newest_first(statement, Payment, page)
    return page_from_rows(list((await session.execute(statement)).scalars()), page)


async def pending_before(
    session: AsyncSession,
    cutoff: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[datetime, uuid.UUID]]:
    """(created_at, id) of pending payments created before `cutoff`, oldest first.

    The status is a literal, not a parameter, so PostgreSQL can use the partial index
    ix_payments_pending_created even with a prepared statement's generic plan."""
    statement = (
        select(col(Payment.created_at), col(Payment.id))
        .where(text("payments.status = 'pending'"), col(Payment.created_at) < cutoff)
        .order_by(col(Payment.created_at), col(Payment.id))
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(tuple_(col(Payment.created_at), col(Payment.id)) > after)
    rows = await session.execute(statement)
    return [(created_at, payment_id) for created_at, payment_id in rows.all()]
