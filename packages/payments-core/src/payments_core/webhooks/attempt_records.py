"""Recording attempts: each one's outcome decided, and a batch of them written in one statement.

A result applies only while the claim's lease token is still the delivery's (a redelivery or a
newer claim decides otherwise, and a late 500 must not show on a delivery the newer claim
completed); the attempt joins the history either way, and an endpoint that answered 410 under
the live lease is disabled. The outcome (succeeded, failed, or pending with the next retry's
time) is decided here from the retries used when the delivery was claimed: while the lease token
matches nothing else can change them, since a redelivery resets both.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, DateTime, Integer, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from payments_core.db.columns import utcnow
from payments_core.webhooks.deliveries import AttemptResult, ClaimedDelivery
from payments_core.webhooks.schedule import retry_delay
from payments_core.webhooks.status import DeliveryStatus, DisabledReason

# The rows are locked in id order, so two batches that share a delivery (a lost lease's late
# result beside the live claim's) cannot deadlock. A batch holds each delivery once.
_RECORD = text("""
    WITH input AS (
        SELECT * FROM unnest(:delivery_ids, :lease_tokens, :statuses, :next_attempts,
                             :status_codes, :durations, :errors, :gone)
            AS i(delivery_id, lease_token, status, next_attempt_at, status_code, duration_ms,
                 error, gone)
    ), locked AS (
        SELECT i.*, coalesce(d.lease_token = i.lease_token, false) AS ours
        FROM webhook_deliveries d JOIN input i ON i.delivery_id = d.id
        ORDER BY d.id
        FOR UPDATE OF d
    ), updated AS (
        UPDATE webhook_deliveries d SET
            attempt_count = d.attempt_count + 1,
            updated_at = :now,
            status = CASE WHEN l.ours THEN l.status ELSE d.status END,
            last_status_code = CASE WHEN l.ours THEN l.status_code ELSE d.last_status_code END,
            last_error = CASE WHEN l.ours THEN l.error ELSE d.last_error END,
            next_attempt_at = CASE WHEN l.ours THEN l.next_attempt_at ELSE d.next_attempt_at END,
            completed_at = CASE WHEN l.ours AND l.status <> 'pending' THEN :now
                                ELSE d.completed_at END,
            retries_used = CASE WHEN l.ours AND l.status = 'pending' THEN d.retries_used + 1
                                ELSE d.retries_used END,
            lease_token = CASE WHEN l.ours THEN NULL ELSE d.lease_token END
        FROM locked l WHERE d.id = l.delivery_id
        RETURNING d.id, d.endpoint_id, d.attempt_count, d.status, d.next_attempt_at, l.ours,
                  l.gone, l.status_code, l.duration_ms, l.error
    ), attempts AS (
        INSERT INTO webhook_attempts
            (id, delivery_id, attempt_number, status_code, duration_ms, error, created_at)
        SELECT gen_random_uuid(), id, attempt_count, status_code, duration_ms, error, :now
        FROM updated
    ), disabled AS (
        UPDATE webhook_endpoints e
        SET disabled = true, disabled_reason = :gone_reason, updated_at = :now
        WHERE e.id IN (SELECT endpoint_id FROM updated WHERE ours AND gone) AND NOT e.disabled
    )
    SELECT id, attempt_count, status, next_attempt_at FROM updated
""").bindparams(
    bindparam("delivery_ids", type_=ARRAY(Uuid())),
    bindparam("lease_tokens", type_=ARRAY(Uuid())),
    bindparam("statuses", type_=ARRAY(String())),
    bindparam("next_attempts", type_=ARRAY(DateTime(timezone=True))),
    bindparam("status_codes", type_=ARRAY(Integer())),
    bindparam("durations", type_=ARRAY(Integer())),
    bindparam("errors", type_=ARRAY(String())),
    bindparam("gone", type_=ARRAY(Boolean())),
    bindparam("now", type_=DateTime(timezone=True)),
)


@dataclass(frozen=True, slots=True)
class RecordedAttempt:
    """The delivery as the recorded attempt left it."""

    status: str
    attempt_count: int
    next_attempt_at: datetime | None


def _decide(
    claim: ClaimedDelivery,
    result: AttemptResult,
    schedule: Sequence[int],
    rng: random.Random | None,
    now: datetime,
) -> tuple[DeliveryStatus, datetime | None]:
    """The delivery's status and next attempt after this result: done, failed, or a retry."""
    if result.succeeded:
        return DeliveryStatus.SUCCEEDED, None
    if result.gone:
        return DeliveryStatus.FAILED, None
    delay = retry_delay(schedule, claim.retries_used, rng)
    if delay is None:
        return DeliveryStatus.FAILED, None
    return DeliveryStatus.PENDING, now + timedelta(seconds=delay)


async def record_attempts(
    session: AsyncSession,
    attempts: Sequence[tuple[ClaimedDelivery, AttemptResult]],
    schedule: Sequence[int],
    rng: random.Random | None = None,
) -> list[RecordedAttempt | None]:
    """Record each attempt and what follows it, in one statement; answers in the same order,
    None for a delivery that no longer exists (so it cannot fail the others' records). Each
    delivery may appear once (the caller holds a second result for the next batch)."""
    if len({claim.delivery_id for claim, _ in attempts}) != len(attempts):
        raise ValueError("a batch records each delivery once")
    now = utcnow()
    decided = [_decide(claim, result, schedule, rng, now) for claim, result in attempts]
    rows = await session.execute(
        _RECORD,
        {
            "delivery_ids": [claim.delivery_id for claim, _ in attempts],
            "lease_tokens": [claim.lease_token for claim, _ in attempts],
            "statuses": [status.value for status, _ in decided],
            "next_attempts": [next_attempt_at for _, next_attempt_at in decided],
            "status_codes": [result.status_code for _, result in attempts],
            "durations": [result.duration_ms for _, result in attempts],
            "errors": [result.error for _, result in attempts],
            "gone": [result.gone for _, result in attempts],
            "now": now,
            "gone_reason": DisabledReason.GONE.value,
        },
    )
    by_id = {
        row.id: RecordedAttempt(row.status, row.attempt_count, row.next_attempt_at) for row in rows
    }
    return [by_id.get(claim.delivery_id) for claim, _ in attempts]


async def record_attempt(
    session: AsyncSession,
    claim: ClaimedDelivery,
    result: AttemptResult,
    schedule: Sequence[int],
    rng: random.Random | None = None,
) -> RecordedAttempt:
    """`record_attempts` for one attempt; LookupError when the delivery no longer exists."""
    [recorded] = await record_attempts(session, [(claim, result)], schedule, rng)
    if recorded is None:
        raise delivery_gone(claim)
    return recorded


def delivery_gone(claim: ClaimedDelivery) -> LookupError:
    """What recording an attempt of a delivery that no longer exists raises."""
    return LookupError(f"delivery {claim.delivery_id} no longer exists")
