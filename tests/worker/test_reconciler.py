"""The reconciler settles payments and refunds left non-final against the gateway's books, and
leaves alone those whose workflow still runs (issue 13, item 2).

Each test leaves a row the way a lost answer, a killed worker or a terminated workflow would,
with the real sandbox acquirer holding the truth, then runs one reconciler round.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlmodel import col
from structlog.testing import capture_logs
from temporalio.client import Client

from payments_core.db.session import transaction
from payments_core.gateway.connector import (
    AuthorizeRequest,
    CaptureRequest,
    RefundRequest,
)
from payments_core.gateway.errors import GatewayTimeout
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.gateway.sandbox.ledger import open_holds
from payments_core.payment_methods.models import PaymentMethod
from payments_core.payments import transitions
from payments_core.payments.models import Payment
from payments_core.payments.status import PaymentStep
from payments_core.refunds.models import Refund
from payments_core.temporal import names
from payments_core.temporal.inputs import RefundWorkflowInput
from payments_worker.activities import authorize_key, capture_key, refund_key
from payments_worker.reconciler.janitor import Reconciler
from payments_worker.reconciler.settle import Settler
from tests.worker.support import (
    AMOUNT,
    REFUND_TIMEOUT_CARD,
    SUCCEEDING_CARDS,
    Sessions,
    card_payment,
    create_refund,
    ledger,
    payment_events,
    payment_row,
    refund_row,
    run_payment,
    start_payment,
)

# Rows of these tests are moved back to 2001; the reconciler looks only at rows unchanged since
# before mid-2001, so what other tests leave behind (changed now) is not its business.
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)
ONLY_LONG_AGO = datetime.now(UTC) - datetime(2001, 6, 1, tzinfo=UTC)


def reconciler(sessions: Sessions, sandbox: SandboxConnector, client: Client) -> Reconciler:
    settler = Settler(sessions, sandbox, call_timeout=timedelta(seconds=5))
    return Reconciler(sessions, settler, client, after=ONLY_LONG_AGO, interval=timedelta(seconds=1))


async def move_back(sessions: Sessions, table: type[Payment] | type[Refund], row_id: str) -> None:
    async with transaction(sessions) as session:
        await session.execute(
            update(table).where(col(table.id) == uuid.UUID(row_id)).values(updated_at=LONG_AGO)
        )


async def ended_workflow(client: Client, workflow_id: str, start: Any) -> None:
    """A workflow that ran and ended without finishing the row (an operator terminated it)."""
    handle = await start(f"no-worker-{uuid.uuid4().hex}")
    assert handle.id == workflow_id
    await handle.terminate("test: the workflow ended without finishing")


async def authorized(sessions: Sessions, sandbox: SandboxConnector, payment_id: str) -> str:
    """Processing, authorized at the gateway and recorded so; returns the authorization."""
    pid = uuid.UUID(payment_id)
    async with sessions() as session:
        payment = await session.get(Payment, pid)
        assert payment is not None
        method = await session.get(PaymentMethod, payment.payment_method_id)
        assert method is not None
    async with transaction(sessions) as session:
        await transitions.start_processing(session, pid)
        await transitions.begin_step(session, pid, PaymentStep.AUTHORIZING)
    result = await sandbox.authorize(
        AuthorizeRequest(authorize_key(payment_id), payment_id, AMOUNT, "NGN", method.gateway_token)
    )
    async with transaction(sessions) as session:
        await transitions.record_authorization(session, pid, result.reference)
    return result.reference


async def test_a_payment_captured_at_the_gateway_but_left_processing_completes(
    sessions: Sessions, sandbox: SandboxConnector, client: Client, merchant_id: uuid.UUID
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    authorization = await authorized(sessions, sandbox, payment_id)
    async with transaction(sessions) as session:
        await transitions.begin_step(session, uuid.UUID(payment_id), PaymentStep.CAPTURING)
    # The capture happened; its answer never came back and the workflow is gone.
    await sandbox.capture(CaptureRequest(capture_key(payment_id), authorization, AMOUNT, "NGN"))
    await ended_workflow(
        client,
        names.payment_workflow_id(payment_id),
        lambda queue: start_payment(client, queue, payment_id),
    )
    await move_back(sessions, Payment, payment_id)

    with capture_logs() as logs:
        result = await reconciler(sessions, sandbox, client).reconcile_once()

    assert result.settled.get("completed", 0) >= 1
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step) == ("completed", "captured")
    assert payment.capture_reference is not None
    assert (await payment_events(sessions, payment_id))[-1] == "payment.completed"
    repairs = [
        line
        for line in logs
        if line["event"].startswith("reconciler.") and line.get("payment_id") == payment_id
    ]
    assert [(line["event"], line["was"], line["now"]) for line in repairs] == [
        ("reconciler.repaired", "processing", "completed")
    ]


async def test_a_hold_left_behind_is_voided_and_the_payment_fails(
    sessions: Sessions, sandbox: SandboxConnector, client: Client, merchant_id: uuid.UUID
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    await authorized(sessions, sandbox, payment_id)
    await ended_workflow(
        client,
        names.payment_workflow_id(payment_id),
        lambda queue: start_payment(client, queue, payment_id),
    )
    await move_back(sessions, Payment, payment_id)

    await reconciler(sessions, sandbox, client).reconcile_once()

    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step, payment.failure_reason) == (
        "failed",
        "voided",
        "processing_error",
    )
    assert await ledger(sessions, payment_id) == [("authorize", "approved"), ("void", "approved")]
    async with sessions() as session:
        assert await open_holds(session, payment_id) == []


async def test_a_payment_whose_workflow_still_runs_is_left_alone(
    sessions: Sessions, sandbox: SandboxConnector, client: Client, merchant_id: uuid.UUID
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    await authorized(sessions, sandbox, payment_id)
    # Started on a queue no worker polls: running, as far as Temporal knows.
    handle = await start_payment(client, f"no-worker-{uuid.uuid4().hex}", payment_id)
    await move_back(sessions, Payment, payment_id)
    try:
        result = await reconciler(sessions, sandbox, client).reconcile_once()
    finally:
        await handle.terminate("test over")

    assert result.left_alone >= 1
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step) == ("processing", "authorized")
    assert await ledger(sessions, payment_id) == [("authorize", "approved")]


@pytest.mark.usefixtures("worker")
async def test_a_refund_of_unknown_outcome_is_settled_from_the_gateways_record(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, REFUND_TIMEOUT_CARD)
    await run_payment(client, task_queue, payment_id)
    refund_id = await create_refund(sessions, merchant_id, payment_id, amount=4_000)
    payment = await payment_row(sessions, payment_id)
    assert payment.capture_reference is not None
    # The refund reached the gateway, whose answer never came (what RefundWorkflow leaves).
    with pytest.raises(GatewayTimeout):
        await sandbox.refund(
            RefundRequest(refund_key(refund_id), payment.capture_reference, 4_000, "NGN")
        )
    await ended_workflow(
        client, names.refund_workflow_id(refund_id), _refund_start(client, refund_id, payment_id)
    )
    await move_back(sessions, Refund, refund_id)

    await reconciler(sessions, sandbox, client).reconcile_once()

    refund = await refund_row(sessions, refund_id)
    assert refund.status == "succeeded"
    assert refund.gateway_reference is not None
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 4_000)
    assert (await payment_events(sessions, payment_id))[-1] == "refund.succeeded"
    # Refunded once at the gateway: the reconciler looked it up, it did not refund again.
    assert (await ledger(sessions, payment_id)).count(("refund", "approved")) == 1


@pytest.mark.usefixtures("worker")
async def test_a_refund_that_never_reached_the_gateway_is_made(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    await run_payment(client, task_queue, payment_id)
    refund_id = await create_refund(sessions, merchant_id, payment_id)
    await ended_workflow(
        client, names.refund_workflow_id(refund_id), _refund_start(client, refund_id, payment_id)
    )
    await move_back(sessions, Refund, refund_id)

    await reconciler(sessions, sandbox, client).reconcile_once()

    assert (await refund_row(sessions, refund_id)).status == "succeeded"
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.amount_refunded) == ("refunded", AMOUNT)
    assert (await ledger(sessions, payment_id)).count(("refund", "approved")) == 1


async def test_the_gauges_count_what_is_not_final_by_status_and_age(
    sessions: Sessions, sandbox: SandboxConnector, client: Client, merchant_id: uuid.UUID
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    await move_back(sessions, Payment, payment_id)
    # Pending, never started: the sweeper's to start, left alone here, but counted.
    await reconciler(sessions, sandbox, client).reconcile_once()

    labels = {"kind": "payment", "status": "pending", "age": "over_1h"}
    assert (REGISTRY.get_sample_value("payments_non_terminal", labels) or 0) >= 1
    oldest = REGISTRY.get_sample_value(
        "payments_non_terminal_oldest_age_seconds", {"kind": "payment", "status": "pending"}
    )
    assert oldest is not None and oldest >= (datetime.now(UTC) - LONG_AGO).total_seconds() - 60
    assert (await payment_row(sessions, payment_id)).status == "pending"


def _refund_start(client: Client, refund_id: str, payment_id: str) -> Any:
    async def start(queue: str) -> Any:
        return await client.start_workflow(
            names.REFUND_WORKFLOW,
            RefundWorkflowInput(refund_id, payment_id),
            id=names.refund_workflow_id(refund_id),
            task_queue=queue,
        )

    return start
