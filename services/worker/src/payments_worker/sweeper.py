"""Drives payments and refunds left `pending`: their event was lost, or Temporal was away.

Every interval, payments and refunds still pending and older than `pending_after` get their
workflow started with the id `payment-<id>` or `refund-<id>`, which is the whole of the
idempotency: a workflow that is running or has ever run under that id is never started again
(REJECT_DUPLICATE, and FAIL on a running one), so a sweep racing the processor, another worker's
sweeper or itself starts nothing twice.

A round takes at most `batch_size` of each, oldest first, and resumes after the last one it saw,
so a few that stay pending for good (a workflow stuck elsewhere) cannot hide the ones behind
them; it starts over from the oldest when it reaches the end.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from payments_core.payments import repository as payments
from payments_core.refunds import repository as refunds
from payments_core.temporal import names
from payments_core.temporal.inputs import PaymentWorkflowInput, RefundWorkflowInput
from payments_worker.periodic import run_every

log = structlog.get_logger()

START_RPC_TIMEOUT = timedelta(seconds=5)


@dataclass(frozen=True)
class SweepResult:
    found: int
    started: int


class PendingWorkSweeper:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        client: Client,
        task_queue: str,
        *,
        pending_after: timedelta,
        interval: timedelta,
        batch_size: int = 100,
    ) -> None:
        self._sessions = session_factory
        self._client = client
        self._task_queue = task_queue
        self._pending_after = pending_after
        self._interval = interval
        self._batch_size = batch_size
        self._cursor: tuple[datetime, uuid.UUID] | None = None
        self._refund_cursor: tuple[datetime, uuid.UUID] | None = None

    async def run(self) -> None:
        await run_every(self._interval, self.sweep_once, failed_event="worker.sweeper_round_failed")

    async def sweep_once(self) -> SweepResult:
        cutoff = datetime.now(UTC) - self._pending_after
        async with self._sessions() as session:
            payment_rows = await payments.pending_before(
                session, cutoff, self._cursor, self._batch_size
            )
            refund_rows = await refunds.pending_before(
                session, cutoff, self._refund_cursor, self._batch_size
            )
        # A short page means the end was reached: the next round starts from the oldest again.
        self._cursor = payment_rows[-1] if len(payment_rows) == self._batch_size else None
        self._refund_cursor = refund_rows[-1][:2] if len(refund_rows) == self._batch_size else None
        started = 0
        for _, payment_id in payment_rows:
            started += await self._start(
                names.PAYMENT_WORKFLOW,
                PaymentWorkflowInput(str(payment_id)),
                names.payment_workflow_id(str(payment_id)),
            )
        for _, refund_id, payment_id in refund_rows:
            started += await self._start(
                names.REFUND_WORKFLOW,
                RefundWorkflowInput(refund_id=str(refund_id), payment_id=str(payment_id)),
                names.refund_workflow_id(str(refund_id)),
            )
        result = SweepResult(found=len(payment_rows) + len(refund_rows), started=started)
        if started:
            log.info("worker.sweeper_started", found=result.found, started=started)
        return result

    async def _start(
        self, workflow: str, argument: PaymentWorkflowInput | RefundWorkflowInput, workflow_id: str
    ) -> int:
        try:
            await self._client.start_workflow(
                workflow,
                argument,
                id=workflow_id,
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                rpc_timeout=START_RPC_TIMEOUT,
            )
        except WorkflowAlreadyStartedError:
            return 0
        log.info("worker.sweeper_started_workflow", workflow_id=workflow_id)
        return 1
