"""The reconciler's loop: every interval, payments and refunds not final and unchanged for
RECONCILE_AFTER_SECONDS are settled against the gateway, one log line per repair.

A row whose workflow is still running is left alone (the workflow will finish it, and two
writers would race); a pending one whose workflow never started is the sweeper's. When Temporal
cannot say, the row waits for the next round. Repairs are idempotent transitions under the payment's
row lock, so two workers' reconcilers, or a reconciler and a late activity, cannot double them.

Each round also takes a batch of the processors' notices down the same path (notices.py).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from payments_core.telemetry.metrics import register_once
from payments_core.temporal import names
from payments_worker.periodic import run_every
from payments_worker.reconciler.notices import NoticeTaker
from payments_worker.reconciler.settle import Settled, Settler
from payments_worker.reconciler.stale import (
    Cursor,
    Stale,
    refresh_gauges,
    stale_payments,
    stale_refunds,
)
from payments_worker.reconciler.workflows import Workflow, describe, wake

log = structlog.get_logger()

RECONCILER_REPAIRS = Counter(
    "payments_reconciler_repairs_total",
    "Payments and refunds the reconciler settled, by kind and outcome (completed, failed, "
    "succeeded), rounds where the gateway still had no answer (unknown), and running workflows "
    "woken to carry out a decision they were never told of (woken).",
    ["kind", "outcome"],
    registry=None,
)
register_once(RECONCILER_REPAIRS)


@dataclass
class ReconcileResult:
    found: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    left_alone: int = 0
    # The processor's notices taken this round, by outcome (notices.py).
    notices: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.settled[outcome] = self.settled.get(outcome, 0) + 1


class Reconciler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settler: Settler,
        client: Client,
        *,
        after: timedelta,
        interval: timedelta,
        batch_size: int = 100,
    ) -> None:
        self._sessions = sessions
        self._settler = settler
        self._client = client
        self._after = after
        self._interval = interval
        self._batch_size = batch_size
        self._cursors: dict[str, Cursor | None] = {"payment": None, "refund": None}
        self._notices = NoticeTaker(sessions, settler, client, batch_size=batch_size)

    async def run(self) -> None:
        await run_every(self._interval, self.reconcile_once, failed_event="reconciler.round_failed")

    async def reconcile_once(self) -> ReconcileResult:
        cutoff = datetime.now(UTC) - self._after
        async with self._sessions() as session:
            await refresh_gauges(session)
            payments = await stale_payments(
                session, cutoff, self._cursors["payment"], self._batch_size
            )
            refunds = await stale_refunds(
                session, cutoff, self._cursors["refund"], self._batch_size
            )
        # A short page means the end was reached: the next round starts from the oldest again.
        for kind, page in (("payment", payments), ("refund", refunds)):
            self._cursors[kind] = page[-1].cursor if len(page) == self._batch_size else None
        result = ReconcileResult(found=len(payments) + len(refunds))
        for row in payments:
            await self._one("payment", row, names.payment_workflow_id(str(row.id)), result)
        for row in refunds:
            await self._one("refund", row, names.refund_workflow_id(str(row.id)), result)
        result.notices = await self._notices.take_once()
        return result

    async def _one(self, kind: str, row: Stale, workflow_id: str, result: ReconcileResult) -> None:
        workflow = await self._workflow(workflow_id)
        # Pending and never started: the sweeper starts it. Past pending without a workflow
        # (its history outlived by the namespace's retention, or Temporal's data lost): ours.
        never_started_pending = workflow == Workflow.NEVER_STARTED and row.status == "pending"
        if workflow == Workflow.RUNNING and row.decided:
            await self._wake(kind, row, workflow_id, result)
            return
        if workflow in (Workflow.RUNNING, Workflow.UNKNOWN) or never_started_pending:
            result.left_alone += 1
            return
        settle = self._settler.payment if kind == "payment" else self._settler.refund
        try:
            outcome, detail = await settle(row.id)
        except Exception as error:  # the gateway or the database: the next round tries again
            outcome, detail = Settled.UNKNOWN, type(error).__name__
        result.count(outcome.value)
        if outcome is Settled.UNCHANGED:
            return
        RECONCILER_REPAIRS.labels(kind, outcome.value).inc()
        unsettled = outcome is Settled.UNKNOWN
        (log.warning if unsettled else log.info)(
            "reconciler.unsettled" if unsettled else "reconciler.repaired",
            kind=kind,
            **{f"{kind}_id": str(row.id)},
            was=row.status,
            now=outcome.value,
            detail=detail,
            unchanged_since=row.updated_at.isoformat(),
            workflow_id=workflow_id,
        )

    async def _wake(self, kind: str, row: Stale, workflow_id: str, result: ReconcileResult) -> None:
        """A decision waits in PostgreSQL and its workflow was never told (the API's update or
        the page's signal was lost): wake it to read the decision. Harmless if it already did."""
        error = await wake(self._client, workflow_id)
        if error is not None:  # ended meanwhile, or Temporal away: the next round
            log.info("reconciler.wake_failed", workflow_id=workflow_id, error=error)
            return
        result.count("woken")
        RECONCILER_REPAIRS.labels(kind, "woken").inc()
        log.info(
            "reconciler.woke",
            kind=kind,
            **{f"{kind}_id": str(row.id)},
            status=row.status,
            unchanged_since=row.updated_at.isoformat(),
            workflow_id=workflow_id,
        )

    async def _workflow(self, workflow_id: str) -> str:
        return await describe(self._client, workflow_id)
