"""Cancel (signal, or the API's cancel in PostgreSQL first), the current-step query, and a
second start under the same workflow id."""

import asyncio
import uuid

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError

from payments_core.db.session import transaction
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.payments import transitions
from payments_core.temporal import names
from payments_worker.activities import PaymentActivities
from payments_worker.payloads import PaymentOutcome
from payments_worker.worker import build_worker
from tests.worker.support import (
    SUCCEEDING_CARDS,
    TIMEOUT_CARD,
    Sessions,
    card_payment,
    ledger,
    payment_events,
    payment_row,
    result_of,
    run_payment,
    start_payment,
)


async def test_cancel_signal_before_authorization_cancels(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    activities: PaymentActivities,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    # No worker polls yet: the signal is in the history before the workflow's first step.
    handle = await start_payment(client, task_queue, payment_id)
    await handle.signal(names.CANCEL_SIGNAL)

    async with build_worker(client, task_queue, activities):
        outcome = await result_of(handle)
        step = await handle.query(names.CURRENT_STEP_QUERY)

    assert outcome == PaymentOutcome("cancelled")
    assert step == "cancelled"
    assert (await payment_row(sessions, payment_id)).status == "cancelled"
    assert await payment_events(sessions, payment_id) == ["payment.initiated", "payment.cancelled"]
    assert await ledger(sessions, payment_id) == []


@pytest.mark.usefixtures("worker")
async def test_payment_cancelled_through_the_api_first_ends_quietly(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    async with transaction(sessions) as session:
        await transitions.cancel(session, uuid.UUID(payment_id), merchant_id)

    assert await run_payment(client, task_queue, payment_id) == PaymentOutcome("cancelled")
    assert await payment_events(sessions, payment_id) == ["payment.initiated", "payment.cancelled"]
    assert await ledger(sessions, payment_id) == []


@pytest.mark.usefixtures("worker")
async def test_cancel_signal_after_authorization_began_is_ignored(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, TIMEOUT_CARD)
    handle = await start_payment(client, task_queue, payment_id)
    for _ in range(200):
        if await handle.query(names.CURRENT_STEP_QUERY) == "authorizing":
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the workflow never reached the authorizing step")

    await handle.signal(names.CANCEL_SIGNAL)

    assert await result_of(handle) == PaymentOutcome("failed", "gateway_timeout")
    assert (await payment_row(sessions, payment_id)).status == "failed"


@pytest.mark.usefixtures("worker")
async def test_second_start_with_the_same_id_starts_nothing(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    handle = await start_payment(client, task_queue, payment_id)
    with pytest.raises(WorkflowAlreadyStartedError):  # while it runs
        await start_payment(client, task_queue, payment_id)
    assert await result_of(handle) == PaymentOutcome("completed")

    with pytest.raises(WorkflowAlreadyStartedError):  # and after it finished
        await start_payment(client, task_queue, payment_id)

    description = await client.get_workflow_handle(names.payment_workflow_id(payment_id)).describe()
    assert description.run_id == handle.result_run_id
    assert description.status == WorkflowExecutionStatus.COMPLETED
    assert await ledger(sessions, payment_id) == [
        ("authorize", "approved"),
        ("capture", "approved"),
    ]
