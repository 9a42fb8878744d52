"""The processor's notices (connector_notices, kept by the API's POST /connectors/{id}/webhooks),
taken by the reconciler each round, oldest first.

A notice is only a hint that its payment may have moved at the processor: it goes down the same
path as a stale row (janitor.py), so it never races a running workflow. Running: wake it
(a waiting workflow re-reads PostgreSQL; harmless otherwise). Not running and unfinished: the
Settler asks the processor (never the notice) and settles. Pending and never started: the
sweeper's. Already final: unchanged. No payment named: ignored. Each notice is marked processed in
its own transaction; one that Temporal or the processor could not answer stays for the next round.
"""

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from temporalio.client import Client

from payments_core.connectors.models import ConnectorNotice
from payments_core.db.columns import utcnow
from payments_core.db.session import transaction
from payments_core.payments.models import Payment
from payments_core.payments.status import UNFINISHED, PaymentStatus
from payments_core.temporal import names
from payments_worker.reconciler.settle import Settled, Settler
from payments_worker.reconciler.workflows import Workflow, describe, wake

log = structlog.get_logger()


class Outcome:
    WOKEN = "woken"
    UNCHANGED = "unchanged"
    IGNORED = "ignored"
    LEFT_ALONE = "left_alone"  # pending, its workflow never started: the sweeper starts it


@dataclass(frozen=True)
class Unprocessed:
    id: uuid.UUID
    connector_id: uuid.UUID
    event_id: str
    type: str
    payment_id: uuid.UUID | None
    payment_status: str | None


async def unprocessed(session: AsyncSession, limit: int) -> list[Unprocessed]:
    """Notices not yet processed, oldest first (ix_connector_notices_unprocessed), with their
    payment's status."""
    notice = ConnectorNotice
    statement = (
        select(
            col(notice.id),
            col(notice.connector_id),
            col(notice.event_id),
            col(notice.type),
            col(notice.payment_id),
            col(Payment.status),
        )
        .outerjoin(Payment, col(Payment.id) == col(notice.payment_id))
        .where(col(notice.processed_at).is_(None))
        .order_by(col(notice.received_at), col(notice.id))
        .limit(limit)
    )
    return [Unprocessed(*row) for row in (await session.execute(statement)).all()]


class NoticeTaker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settler: Settler,
        client: Client,
        *,
        batch_size: int = 100,
    ) -> None:
        self._sessions = sessions
        self._settler = settler
        self._client = client
        self._batch_size = batch_size

    async def take_once(self) -> dict[str, int]:
        """Process up to a batch of notices; how many ended with each outcome (`retry`: left
        for the next round)."""
        async with self._sessions() as session:
            notices = await unprocessed(session, self._batch_size)
        outcomes: dict[str, int] = {}
        for notice in notices:
            outcome, detail = await self._decide(notice)
            processed = outcome is not None and await self._mark(notice, outcome)
            label = outcome if processed and outcome is not None else "retry"
            outcomes[label] = outcomes.get(label, 0) + 1
            (log.info if processed else log.warning)(
                "reconciler.notice",
                connector_id=str(notice.connector_id),
                event_id=notice.event_id,
                type=notice.type,
                payment_id=str(notice.payment_id) if notice.payment_id else None,
                outcome=outcome,
                processed=processed,
                detail=detail,
            )
        return outcomes

    async def _decide(self, notice: Unprocessed) -> tuple[str | None, str | None]:
        """(outcome, detail); outcome None: nothing could be decided now, try next round."""
        if notice.payment_id is None or notice.payment_status is None:
            return Outcome.IGNORED, None
        if notice.payment_status not in UNFINISHED:
            return Outcome.UNCHANGED, None
        workflow_id = names.payment_workflow_id(str(notice.payment_id))
        workflow = await describe(self._client, workflow_id)
        if workflow == Workflow.RUNNING:
            error = await wake(self._client, workflow_id)
            return (Outcome.WOKEN, None) if error is None else (None, error)
        if workflow == Workflow.UNKNOWN:
            return None, "temporal_unavailable"
        if workflow == Workflow.NEVER_STARTED and notice.payment_status == PaymentStatus.PENDING:
            return Outcome.LEFT_ALONE, None
        try:
            settled, detail = await self._settler.payment(notice.payment_id)
        except Exception as error:  # the processor or the database: the next round
            return None, type(error).__name__
        if settled is Settled.UNKNOWN:
            return None, detail
        return settled.value, detail

    async def _mark(self, notice: Unprocessed, outcome: str) -> bool:
        try:
            async with transaction(self._sessions) as session:
                await session.execute(
                    update(ConnectorNotice)
                    .where(
                        col(ConnectorNotice.id) == notice.id,
                        col(ConnectorNotice.processed_at).is_(None),
                    )
                    .values(processed_at=utcnow(), outcome=outcome)
                )
        except Exception:
            log.warning("reconciler.notice_mark_failed", event_id=notice.event_id, exc_info=True)
            return False
        return True
