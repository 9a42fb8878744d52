"""The sweeper starts the workflow of a payment or a refund left pending, exactly once."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col
from temporalio.client import Client

from payments_core.db.session import transaction
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.payments.models import Payment
from payments_core.refunds.models import Refund
from payments_core.temporal import names
from payments_worker.activities import PaymentActivities
from payments_worker.payloads import PaymentOutcome, RefundOutcome
from payments_worker.sweeper import PendingWorkSweeper
from payments_worker.worker import build_worker
from tests.worker.support import (
    SUCCEEDING_CARDS,
    Sessions,
    card_payment,
    create_refund,
    ledger,
    payment_row,
    refund_row,
    result_of,
    run_payment,
)

# Payments of this test are moved back to 2001; the sweeper looks only at those, so pending
# payments other tests leave behind (created now) are not its business.
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)
ONLY_LONG_AGO = datetime.now(UTC) - datetime(2001, 6, 1, tzinfo=UTC)


async def move_back(
    sessions: Sessions, table: type[Payment] | type[Refund], row_id: str, offset: int = 0
) -> None:
    """Pretend the row was created long ago (plus `offset` seconds, to order several)."""
    async with transaction(sessions) as session:
        await session.execute(
            update(table)
            .where(col(table.id) == uuid.UUID(row_id))
            .values(created_at=LONG_AGO + timedelta(seconds=offset))
        )


async def old_pending_payment(
    sessions: Sessions, sandbox: SandboxConnector, merchant_id: uuid.UUID, offset: int = 0
) -> str:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    await move_back(sessions, Payment, payment_id, offset)
    return payment_id


def sweeper(
    sessions: Sessions, client: Client, task_queue: str, batch: int = 100
) -> PendingWorkSweeper:
    return PendingWorkSweeper(
        sessions,
        client,
        task_queue,
        pending_after=ONLY_LONG_AGO,
        interval=timedelta(seconds=1),
        batch_size=batch,
    )


async def test_sweeper_starts_an_old_pending_payment_once(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await old_pending_payment(sessions, sandbox, merchant_id)
    sweep = sweeper(sessions, client, task_queue)

    first = await sweep.sweep_once()  # no worker yet: the payment stays pending
    second = await sweep.sweep_once()

    assert first.started >= 1
    assert second.started == 0
    assert second.found == first.found
    handle = client.get_workflow_handle(
        names.payment_workflow_id(payment_id), result_type=PaymentOutcome
    )
    async with build_worker(client, task_queue, activities):
        assert await result_of(handle) == PaymentOutcome("completed")
    assert (await payment_row(sessions, payment_id)).status == "completed"
    assert (await sweep.sweep_once()).found == 0


async def test_sweeper_pages_through_pending_payments(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    older = await old_pending_payment(sessions, sandbox, merchant_id, offset=0)
    newer = await old_pending_payment(sessions, sandbox, merchant_id, offset=1)
    sweep = sweeper(sessions, client, task_queue, batch=1)

    rounds = [await sweep.sweep_once() for _ in range(4)]

    # One per round, oldest first; the third round reaches the end, the fourth starts over and
    # finds the oldest started already.
    found_started = [(round_.found, round_.started) for round_ in rounds]
    assert found_started == [(1, 1), (1, 1), (0, 0), (1, 0)]
    async with build_worker(client, task_queue, activities):
        for payment_id in (older, newer):
            handle = client.get_workflow_handle(
                names.payment_workflow_id(payment_id), result_type=PaymentOutcome
            )
            assert await result_of(handle) == PaymentOutcome("completed")


async def test_sweeper_starts_an_old_pending_refund_once(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    # A completed payment whose refund.created event never reached the processor (a DLQ, say):
    # the refund row exists, pending, and no workflow was started for it.
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    async with build_worker(client, task_queue, activities):
        assert await run_payment(client, task_queue, payment_id) == PaymentOutcome("completed")
    refund_id = await create_refund(sessions, merchant_id, payment_id, amount=3_000)
    await move_back(sessions, Refund, refund_id)
    sweep = sweeper(sessions, client, task_queue)

    first = await sweep.sweep_once()
    second = await sweep.sweep_once()

    # Other tests' payments moved to 2001 may be found too; the refund's workflow must exist.
    assert first.started >= 1
    assert second.started == 0
    handle = client.get_workflow_handle(
        names.refund_workflow_id(refund_id), result_type=RefundOutcome
    )
    async with build_worker(client, task_queue, activities):
        assert await result_of(handle) == RefundOutcome("succeeded")
    assert (await refund_row(sessions, refund_id)).status == "succeeded"
    assert (await ledger(sessions, payment_id)).count(("refund", "approved")) == 1
    assert (await sweep.sweep_once()).found == 0
