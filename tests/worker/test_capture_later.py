"""Capture later on the real Temporal dev server: a manual payment waits at `authorized` until
the merchant's capture or cancel (decided in PostgreSQL, carried out through the workflow's
update) or its hold's expiry, and the sandbox's ledger shows what became of the hold.

The expiry runs on a real timer with a short TTL: Temporal's time-skipping test server is a
download from Temporal's CDN, which this machine cannot reach (README "Capture later").
"""

import uuid
from datetime import timedelta

import pytest
from structlog.testing import capture_logs
from temporalio.client import Client

from payments_core.db.session import transaction
from payments_core.errors import InvalidRequest, InvalidState
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.gateway.sandbox.ledger import ledger_for_payment
from payments_core.payments import transitions
from payments_core.payments.models import Payment
from payments_core.payments.status import HoldDecision
from payments_core.temporal import names
from payments_worker.payloads import PaymentOutcome
from tests.worker.support import (
    AMOUNT,
    CAPTURE_FAILS_CARD,
    Sessions,
    card_method,
    create_payment,
    create_refund,
    decide_hold,
    hold_decided,
    ledger,
    payment_events,
    payment_row,
    refund_row,
    result_of,
    start_payment,
    wait_for_status,
)
from tests.worker.test_reconciler import move_back, reconciler

AUTHORIZED_EVENTS = ["payment.initiated", "payment.processing", "payment.authorized"]

pytestmark = pytest.mark.usefixtures("worker")


async def _authorized_payment(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
    *,
    number: str = "4242424242424242",
    ttl: timedelta = timedelta(days=7),
) -> str:
    method_id = await card_method(sessions, sandbox, merchant_id, number)
    payment_id = await create_payment(
        sessions, merchant_id, method_id, capture_method="manual", authorization_ttl=ttl
    )
    await start_payment(client, task_queue, payment_id)
    return payment_id


async def test_a_manual_payment_waits_authorized_then_captures_part_of_the_hold(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await _authorized_payment(sessions, sandbox, client, task_queue, merchant_id)

    held = await wait_for_status(sessions, payment_id, "authorized")
    assert held.processing_step == "authorized"
    assert held.authorization_expires_at is not None
    assert held.amount_captured == 0
    assert await payment_events(sessions, payment_id) == AUTHORIZED_EVENTS
    assert await ledger(sessions, payment_id) == [("authorize", "approved")]

    await decide_hold(sessions, payment_id, HoldDecision.CAPTURE, 4_000)
    assert await hold_decided(client, payment_id) == "completed"

    captured = await wait_for_status(sessions, payment_id, "completed")
    assert (captured.amount_captured, captured.processing_step) == (4_000, "captured")
    assert await payment_events(sessions, payment_id) == [*AUTHORIZED_EVENTS, "payment.completed"]
    async with sessions() as session:
        entries = await ledger_for_payment(session, payment_id)
    assert [(entry.operation, entry.amount) for entry in entries] == [
        ("authorize", AMOUNT),
        ("capture", 4_000),
    ]
    # Refunds apply to what was captured, not to what was held.
    with pytest.raises(InvalidRequest, match="4000 that remains refundable"):
        await create_refund(sessions, merchant_id, payment_id, 4_001)
    refund_id = await create_refund(sessions, merchant_id, payment_id)
    assert (await refund_row(sessions, refund_id)).amount == 4_000


async def test_cancelling_an_authorized_payment_voids_its_hold(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await _authorized_payment(sessions, sandbox, client, task_queue, merchant_id)
    await wait_for_status(sessions, payment_id, "authorized")

    async with transaction(sessions) as session:
        decided = await transitions.cancel(session, uuid.UUID(payment_id))
    assert (decided.status, decided.hold_decision) == ("authorized", "cancel")
    assert await hold_decided(client, payment_id) == "cancelled"

    cancelled = await wait_for_status(sessions, payment_id, "cancelled")
    assert cancelled.processing_step == "voided"
    assert await ledger(sessions, payment_id) == [("authorize", "approved"), ("void", "approved")]
    assert await payment_events(sessions, payment_id) == [*AUTHORIZED_EVENTS, "payment.cancelled"]
    # The hold's first decision stands: a capture now is refused.
    with pytest.raises(InvalidState):
        await decide_hold(sessions, payment_id, HoldDecision.CAPTURE)


async def test_a_hold_nobody_decides_expires_and_is_voided(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await _authorized_payment(
        sessions, sandbox, client, task_queue, merchant_id, ttl=timedelta(seconds=2)
    )
    handle = client.get_workflow_handle(
        names.payment_workflow_id(payment_id), result_type=PaymentOutcome
    )

    assert await result_of(handle) == PaymentOutcome("failed", "authorization_expired")

    expired = await wait_for_status(sessions, payment_id, "failed")
    assert (expired.failure_reason, expired.hold_decision) == ("authorization_expired", "expire")
    assert await ledger(sessions, payment_id) == [("authorize", "approved"), ("void", "approved")]
    assert await payment_events(sessions, payment_id) == [*AUTHORIZED_EVENTS, "payment.failed"]
    # A capture after the expiry is refused; nothing more reaches the gateway.
    with pytest.raises(InvalidState):
        await decide_hold(sessions, payment_id, HoldDecision.CAPTURE)


async def test_a_decision_the_workflow_was_never_told_of_is_carried_out_when_it_wakes(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    """The API's update was lost (Temporal away): the decision is in PostgreSQL, and the
    reconciler's wake signal (or the expiry timer) is enough for the workflow to carry it out."""
    payment_id = await _authorized_payment(sessions, sandbox, client, task_queue, merchant_id)
    await wait_for_status(sessions, payment_id, "authorized")
    await decide_hold(sessions, payment_id, HoldDecision.CAPTURE)

    handle = client.get_workflow_handle(
        names.payment_workflow_id(payment_id), result_type=PaymentOutcome
    )
    await handle.signal(names.WAKE_SIGNAL)

    assert await result_of(handle) == PaymentOutcome("completed")
    completed = await wait_for_status(sessions, payment_id, "completed")
    assert completed.amount_captured == AMOUNT


async def test_a_manual_capture_the_gateway_refuses_releases_the_hold_and_fails(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await _authorized_payment(
        sessions, sandbox, client, task_queue, merchant_id, number=CAPTURE_FAILS_CARD
    )
    await wait_for_status(sessions, payment_id, "authorized")
    await decide_hold(sessions, payment_id, HoldDecision.CAPTURE)

    assert await hold_decided(client, payment_id) == "failed"

    failed = await wait_for_status(sessions, payment_id, "failed")
    assert (failed.failure_reason, failed.amount_captured) == ("capture_failed", 0)
    assert await ledger(sessions, payment_id) == [
        ("authorize", "approved"),
        ("capture", "failed"),
        ("void", "approved"),
    ]


async def test_the_reconciler_wakes_a_workflow_that_never_heard_of_its_capture(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    """A decided capture unchanged past RECONCILE_AFTER_SECONDS, its workflow still waiting:
    the reconciler wakes it. An authorized payment nobody decided on is left to wait."""
    decided = await _authorized_payment(sessions, sandbox, client, task_queue, merchant_id)
    waiting = await _authorized_payment(sessions, sandbox, client, task_queue, merchant_id)
    for payment_id in (decided, waiting):
        await wait_for_status(sessions, payment_id, "authorized")
    await decide_hold(sessions, decided, HoldDecision.CAPTURE)
    for payment_id in (decided, waiting):
        await move_back(sessions, Payment, payment_id)

    with capture_logs() as logs:
        await reconciler(sessions, sandbox, client).reconcile_once()

    handle = client.get_workflow_handle(
        names.payment_workflow_id(decided), result_type=PaymentOutcome
    )
    assert await result_of(handle) == PaymentOutcome("completed")
    woken = [line["payment_id"] for line in logs if line["event"] == "reconciler.woke"]
    assert woken == [decided]
    assert (await payment_row(sessions, waiting)).status == "authorized"
