"""PaymentProcessingWorkflow end to end: each sandbox test card's outcome (CONTRACT.md), the
status changes with their outbox events, and what the sandbox acquirer's ledger shows."""

import uuid

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from payments_core.gateway.sandbox import SandboxConnector
from payments_core.temporal import names
from payments_worker.payloads import PaymentOutcome
from tests.worker.support import (
    CAPTURE_FAILS_CARD,
    DECLINED_CARD,
    INSUFFICIENT_FUNDS_CARD,
    SUCCEEDING_CARDS,
    TIMEOUT_CARD,
    TRANSIENT_CARD,
    Sessions,
    bank_transfer_method,
    card_payment,
    create_payment,
    ledger,
    payment_events,
    payment_row,
    run_payment,
)
from tests.worker.waiting_scenarios import activity_tasks, milestones, workflow_tasks

COMPLETED_EVENTS = ["payment.initiated", "payment.processing", "payment.completed"]
FAILED_EVENTS = ["payment.initiated", "payment.processing", "payment.failed"]


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("number", [*SUCCEEDING_CARDS, TRANSIENT_CARD])
async def test_card_completes(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
    number: str,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, number)

    outcome = await run_payment(client, task_queue, payment_id)

    assert outcome == PaymentOutcome("completed")
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step, payment.failure_reason) == (
        "completed",
        "captured",
        None,
    )
    assert payment.gateway_reference is not None
    assert payment.capture_reference is not None
    assert payment.completed_at is not None
    assert await payment_events(sessions, payment_id) == COMPLETED_EVENTS
    # 0119's two transient failures held nothing: one hold, one capture, whatever the card.
    assert await ledger(sessions, payment_id) == [
        ("authorize", "approved"),
        ("capture", "approved"),
    ]


@pytest.mark.usefixtures("worker")
async def test_method_without_card_completes(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    method_id = await bank_transfer_method(sessions, sandbox, merchant_id)
    payment_id = await create_payment(sessions, merchant_id, method_id)

    assert await run_payment(client, task_queue, payment_id) == PaymentOutcome("completed")
    assert await payment_events(sessions, payment_id) == COMPLETED_EVENTS


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(
    ("number", "reason"),
    [(DECLINED_CARD, "card_declined"), (INSUFFICIENT_FUNDS_CARD, "insufficient_funds")],
)
async def test_declined_card_fails_without_void(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
    number: str,
    reason: str,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, number)

    outcome = await run_payment(client, task_queue, payment_id)

    assert outcome == PaymentOutcome("failed", reason)
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.failure_reason) == ("failed", reason)
    assert payment.gateway_reference is None
    assert await payment_events(sessions, payment_id) == FAILED_EVENTS
    assert await ledger(sessions, payment_id) == [("authorize", "declined")]


@pytest.mark.parametrize(
    ("card", "reason", "expected_ledger"),
    [
        pytest.param(
            CAPTURE_FAILS_CARD,
            "capture_failed",
            [("authorize", "approved"), ("capture", "failed"), ("void", "approved")],
            id="capture fails for good",
        ),
        # Every retry of the timeout card is answered from the first hold; the void releases it.
        pytest.param(
            TIMEOUT_CARD,
            "gateway_timeout",
            [("authorize", "approved"), ("void", "approved")],
            id="gateway never answers",
        ),
    ],
)
@pytest.mark.usefixtures("worker")
async def test_a_hold_that_cannot_be_captured_is_voided_then_failed(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
    card: str,
    reason: str,
    expected_ledger: list[tuple[str, str]],
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, card)

    outcome = await run_payment(client, task_queue, payment_id)

    assert outcome == PaymentOutcome("failed", reason)
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step, payment.failure_reason) == (
        "failed",
        "voided",
        reason,
    )
    assert await payment_events(sessions, payment_id) == FAILED_EVENTS
    assert await ledger(sessions, payment_id) == expected_ledger


async def test_already_finished_payment_is_left_alone(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
    worker: Worker,
) -> None:
    """A second workflow (another id, as after a reset) finds the payment done and ends."""
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    assert await run_payment(client, task_queue, payment_id) == PaymentOutcome("completed")

    again = await client.execute_workflow(
        "PaymentProcessingWorkflow",
        {"payment_id": payment_id},
        id=f"again-{payment_id}",
        task_queue=task_queue,
        result_type=PaymentOutcome,
    )

    assert again == PaymentOutcome("completed")
    assert await payment_events(sessions, payment_id) == COMPLETED_EVENTS
    assert len(await ledger(sessions, payment_id)) == 2


@pytest.mark.usefixtures("worker")
async def test_only_gateway_calls_are_tasks_of_their_own(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    """The database steps run as local activities (markers in the workflow task), steps that
    always run together in one (start and begin authorizing; capture and complete); only the
    gateway's authorize and capture go through the task queue, each with its own workflow task."""
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    await run_payment(client, task_queue, payment_id)

    history = await client.get_workflow_handle(
        names.payment_workflow_id(payment_id)
    ).fetch_history()

    assert activity_tasks(history) == ["authorize", "capture"]
    assert [step for step in milestones(history) if step not in ("authorize", "capture")] == [
        "start_processing"
    ]
    assert workflow_tasks(history) == 3
