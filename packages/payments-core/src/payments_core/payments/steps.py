"""Gateway steps that change nothing but the step, in one statement: the worker's hot path.

`transitions.begin_step` and `transitions.record_*` lock the payment, check that the step may
follow, then update it: BEGIN, SELECT … FOR UPDATE, UPDATE, COMMIT, four round trips, each a
costly socket write on both sides (README, "Performance"). When the step is all that changes
(no event, no count), one conditional UPDATE in autocommit does the same work: its WHERE clause
is the same rule (an in-flight status, and `status.can_step` from the current step), and the
row lock is the UPDATE's own. When it matches no row, the caller takes the locking path, which
answers precisely (an InvalidState, a repeated capture answered from its record, a manual
payment's `authorized` event).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.payments.status import (
    IN_FLIGHT,
    STEP_TRANSITIONS,
    CaptureMethod,
    PaymentStep,
)

# No step yet is matched as '' (ANY(...) never matches NULL).
_STEP = text(
    "UPDATE payments SET processing_step = :step, updated_at = :now,"
    " gateway_reference = coalesce(CAST(:gateway_reference AS varchar), gateway_reference)"
    " WHERE id = :id AND status = ANY(CAST(:in_flight AS varchar[]))"
    " AND coalesce(processing_step, '') = ANY(CAST(:after AS varchar[]))"
    " AND (CAST(:capture_method AS varchar) IS NULL OR capture_method = :capture_method)"
    " RETURNING connector_id"
)
_IN_FLIGHT = sorted(status.value for status in IN_FLIGHT)
# The steps each step may follow (itself included: a repeat; '' for no step yet), from the
# same table `status.can_step` reads.
_MAY_FOLLOW = {
    step: sorted(
        {current or "" for current, nexts in STEP_TRANSITIONS.items() if step in nexts}
        | {step.value}
    )
    for step in PaymentStep
}


@dataclass(frozen=True, slots=True)
class Stepped:
    connector_id: uuid.UUID | None  # None: the sandbox


async def step_at_once(
    sessions: async_sessionmaker[AsyncSession],
    payment_id: uuid.UUID,
    step: PaymentStep,
    *,
    gateway_reference: str | None = None,
    automatic_only: bool = False,
) -> Stepped | None:
    """Move the payment to `step` (with the gateway's reference) in one statement, if the step
    may follow; None when it may not, or when something else must happen too (the caller then
    locks and decides). `automatic_only`: a manual payment's authorization also moves its
    status, with an event."""
    async with sessions() as session:
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        row = (
            await connection.execute(
                _STEP,
                {
                    "id": payment_id,
                    "step": step.value,
                    "now": datetime.now(UTC),
                    "gateway_reference": gateway_reference,
                    "in_flight": _IN_FLIGHT,
                    "after": _MAY_FOLLOW[step],
                    "capture_method": CaptureMethod.AUTOMATIC.value if automatic_only else None,
                },
            )
        ).one_or_none()
    return None if row is None else Stepped(row.connector_id)
