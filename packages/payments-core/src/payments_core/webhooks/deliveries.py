"""Deliveries: one per (event, endpoint), created from the queue, retried from this table.

The table is the retry queue. A pending delivery is due when `next_attempt_at` has passed; a
sender claims due rows with `FOR UPDATE SKIP LOCKED`, pushing `next_attempt_at` out by a lease
and stamping a `lease_token`, and commits at once: the HTTP call then runs outside any
transaction, and if the sender dies the row simply comes due again when the lease ends. The
attempt's result applies only while the token still matches (a redelivery resets it).
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid
from sqlmodel import col, select

from payments_core.db.columns import utcnow
from payments_core.outbox.models import OutboxMessage
from payments_core.webhooks.models import WebhookDelivery
from payments_core.webhooks.status import DeliveryStatus

# Both statements pick endpoints whose enabled events match: "*" or the event's exact type.
_ENQUEUE = text("""
    INSERT INTO webhook_deliveries
        (id, event_id, endpoint_id, merchant_id, status, next_attempt_at, created_at, updated_at)
    SELECT gen_random_uuid(), o.id, e.id, e.merchant_id, 'pending', now(), now(), now()
    FROM outbox o
    JOIN webhook_endpoints e ON e.merchant_id = o.merchant_id
    WHERE o.id = :event_id AND NOT e.disabled AND e.deleted_at IS NULL
      AND ('*' = ANY(e.enabled_events) OR o.event_type = ANY(e.enabled_events))
    ON CONFLICT (event_id, endpoint_id) DO NOTHING
    RETURNING id
""")

_REDELIVER = text("""
    INSERT INTO webhook_deliveries
        (id, event_id, endpoint_id, merchant_id, status, next_attempt_at, created_at, updated_at)
    SELECT gen_random_uuid(), o.id, e.id, e.merchant_id, 'pending', now(), now(), now()
    FROM outbox o
    JOIN webhook_endpoints e ON e.merchant_id = o.merchant_id
    WHERE o.id = :event_id AND o.merchant_id = :merchant_id
      AND NOT e.disabled AND e.deleted_at IS NULL
      AND (e.id = :endpoint_id OR (CAST(:endpoint_id AS uuid) IS NULL
           AND ('*' = ANY(e.enabled_events) OR o.event_type = ANY(e.enabled_events))))
    ON CONFLICT (event_id, endpoint_id) DO UPDATE SET
        status = 'pending', next_attempt_at = now(), retries_used = 0, lease_token = NULL,
        completed_at = NULL, updated_at = now()
    RETURNING id
""").bindparams(bindparam("endpoint_id", type_=Uuid()))

# Due rows, at most `per_endpoint` per endpoint counting the attempts this sender already has in
# flight to it (`held`), so one slow endpoint cannot take every slot. Counting only the new rows
# would let an endpoint with one attempt in flight get `per_endpoint` more. The window function
# cannot share a query level with FOR UPDATE, hence the two steps; the UPDATE re-checks each row
# after its lock.
_CLAIM = text("""
    WITH held AS (
        SELECT * FROM unnest(:held_endpoints, :held_attempts) AS h(endpoint_id, attempts)
    ), ranked AS (
        SELECT d.id, d.next_attempt_at,
               coalesce(h.attempts, 0)
               + row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id)
               AS place
        FROM webhook_deliveries d LEFT JOIN held h ON h.endpoint_id = d.endpoint_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= now()
          AND coalesce(h.attempts, 0) < :per_endpoint
    ), picked AS (
        SELECT d.id FROM webhook_deliveries d JOIN ranked r ON r.id = d.id
        WHERE r.place <= :per_endpoint
        ORDER BY r.next_attempt_at
        LIMIT :limit
        FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE webhook_deliveries d
    SET next_attempt_at = now() + make_interval(secs => :lease_seconds),
        lease_token = :lease_token, updated_at = now()
    FROM picked, outbox o, webhook_endpoints e
    WHERE d.id = picked.id AND o.id = d.event_id AND e.id = d.endpoint_id
      AND d.status = 'pending' AND d.next_attempt_at <= now()
    RETURNING d.id, d.event_id, d.endpoint_id, d.retries_used, o.payload, o.traceparent, e.url,
              e.disabled, e.deleted_at, e.secret_sealed, e.previous_secret_sealed,
              e.previous_secret_expires_at
""").bindparams(
    bindparam("held_endpoints", type_=ARRAY(Uuid())),
    bindparam("held_attempts", type_=ARRAY(Integer())),
    bindparam("lease_token", type_=Uuid()),
)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A due delivery this sender holds until `lease_token` is replaced or the lease ends."""

    delivery_id: uuid.UUID
    event_id: str
    endpoint_id: uuid.UUID
    lease_token: uuid.UUID
    payload: dict[str, Any]
    url: str
    endpoint_usable: bool
    secret_sealed: str
    previous_secret_sealed: str | None
    previous_secret_expires_at: datetime | None
    # The event's stored trace context: each attempt's span continues the payment's trace.
    traceparent: str | None = None
    # Retries used when claimed: while the lease token matches nothing else can change it (a
    # redelivery resets both), so the attempt's outcome is decided from it.
    retries_used: int = 0

    def __repr__(self) -> str:
        return f"ClaimedDelivery(delivery_id={self.delivery_id}, event_id={self.event_id!r})"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    duration_ms: int
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


async def event_recorded(session: AsyncSession, event_id: str) -> bool:
    return await session.get(OutboxMessage, event_id) is not None


async def enqueue_for_event(session: AsyncSession, event_id: str) -> int:
    """Create the event's deliveries to every matching endpoint; a repeat creates none."""
    rows = await session.execute(_ENQUEUE, {"event_id": event_id})
    return len(rows.all())


async def claim_due(
    session: AsyncSession,
    *,
    limit: int,
    per_endpoint: int,
    in_flight: Mapping[uuid.UUID, int],
    lease_seconds: float,
) -> list[ClaimedDelivery]:
    """Claim up to `limit` due deliveries; `in_flight` counts this sender's attempts per
    endpoint, so no endpoint ends up with more than `per_endpoint` of them."""
    token = uuid.uuid4()
    rows = await session.execute(
        _CLAIM,
        {
            "limit": limit,
            "per_endpoint": per_endpoint,
            "held_endpoints": list(in_flight),
            "held_attempts": list(in_flight.values()),
            "lease_seconds": lease_seconds,
            "lease_token": token,
        },
    )
    return [
        ClaimedDelivery(
            delivery_id=row.id,
            event_id=row.event_id,
            endpoint_id=row.endpoint_id,
            lease_token=token,
            payload=row.payload,
            url=row.url,
            endpoint_usable=not row.disabled and row.deleted_at is None,
            secret_sealed=row.secret_sealed,
            previous_secret_sealed=row.previous_secret_sealed,
            previous_secret_expires_at=row.previous_secret_expires_at,
            traceparent=row.traceparent,
            retries_used=row.retries_used,
        )
        for row in rows
    ]


async def _lock(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery:
    statement = (
        select(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one()


def _finish(delivery: WebhookDelivery, status: DeliveryStatus, now: datetime) -> None:
    delivery.status = status.value
    delivery.completed_at = now
    delivery.next_attempt_at = None
    delivery.lease_token = None


async def abandon(session: AsyncSession, claim: ClaimedDelivery, reason: str) -> None:
    """End a claimed delivery without an attempt (its endpoint was disabled or deleted)."""
    delivery = await _lock(session, claim.delivery_id)
    if delivery.lease_token != claim.lease_token:
        return
    now = utcnow()
    _finish(delivery, DeliveryStatus.FAILED, now)
    delivery.last_error = reason
    delivery.updated_at = now
    await session.flush()


async def redeliver(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    event_id: str,
    endpoint_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Queue the event again for its matching endpoints, or for the one named; the delivery's
    schedule starts over and its attempts so far stay on record. The caller has checked that
    the event and the endpoint are the merchant's (`events.service.redeliver`)."""
    rows = await session.execute(
        _REDELIVER,
        {"event_id": event_id, "merchant_id": merchant_id, "endpoint_id": endpoint_id},
    )
    return [row.id for row in rows]
