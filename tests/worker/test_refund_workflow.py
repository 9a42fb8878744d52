"""RefundWorkflow: partial then full refunds of a completed payment, a refund the gateway
refuses, and one whose outcome never comes back (left pending, its amount still taken)."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from payments_core.db.session import transaction
from payments_core.errors import InvalidRequest
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.refunds import service as refunds
from payments_core.refunds.models import Refund
from payments_core.refunds.schemas import RefundCreate
from payments_worker.payloads import PaymentOutcome, RefundOutcome
from tests.worker.support import (
    AMOUNT,
    REFUND_RUNS_OUT_SECONDS,
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
    run_refund,
)


async def completed_payment(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
    card: str = SUCCEEDING_CARDS[0],
) -> str:
    payment_id = await card_payment(sessions, sandbox, merchant_id, card)
    assert await run_payment(client, task_queue, payment_id) == PaymentOutcome("completed")
    return payment_id


@pytest.mark.usefixtures("worker")
async def test_partial_then_full_refund(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await completed_payment(sessions, sandbox, client, task_queue, merchant_id)

    partial = await create_refund(sessions, merchant_id, payment_id, amount=4_000)
    assert await run_refund(client, task_queue, partial, payment_id) == RefundOutcome("succeeded")
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 4_000)

    rest = await create_refund(sessions, merchant_id, payment_id)  # everything that remains
    assert await run_refund(client, task_queue, rest, payment_id) == RefundOutcome("succeeded")
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.amount_refunded) == ("refunded", AMOUNT)

    refund = await refund_row(sessions, rest)
    assert (refund.status, refund.amount) == ("succeeded", AMOUNT - 4_000)
    assert refund.gateway_reference is not None
    assert (await payment_events(sessions, payment_id))[3:] == [
        "refund.created",
        "refund.succeeded",
        "refund.created",
        "refund.succeeded",
    ]
    assert await ledger(sessions, payment_id) == [
        ("authorize", "approved"),
        ("capture", "approved"),
        ("refund", "approved"),
        ("refund", "approved"),
    ]


@pytest.mark.usefixtures("worker")
async def test_refund_refused_by_the_gateway_fails(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await completed_payment(sessions, sandbox, client, task_queue, merchant_id)
    # More than was captured: the service would refuse it, so write the row directly to see
    # what the workflow does when the gateway says no.
    refund = Refund(
        payment_id=uuid.UUID(payment_id),
        merchant_id=merchant_id,
        amount=AMOUNT + 1,
        currency="NGN",
    )
    async with transaction(sessions) as session:
        session.add(refund)

    outcome = await run_refund(client, task_queue, str(refund.id), payment_id)

    assert outcome == RefundOutcome("failed", "refund_failed")
    failed = await refund_row(sessions, str(refund.id))
    assert (failed.status, failed.failure_reason) == ("failed", "refund_failed")
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.amount_refunded) == ("completed", 0)
    assert (await payment_events(sessions, payment_id))[-1] == "refund.failed"


@pytest.mark.usefixtures("worker")
async def test_refund_whose_answer_never_comes_stays_pending_and_keeps_its_amount(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await completed_payment(
        sessions, sandbox, client, task_queue, merchant_id, card=REFUND_TIMEOUT_CARD
    )
    refund_id = await create_refund(sessions, merchant_id, payment_id, amount=AMOUNT)

    outcome = await run_refund(
        client, task_queue, refund_id, payment_id, timeout_seconds=REFUND_RUNS_OUT_SECONDS
    )

    assert outcome == RefundOutcome("pending", "gateway_timeout")
    assert (await refund_row(sessions, refund_id)).status == "pending"
    # The gateway did refund (its answer was lost): had the refund failed, the same amount
    # could be refunded twice.
    assert ("refund", "approved") in await ledger(sessions, payment_id)
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.amount_refunded) == ("completed", 0)
    assert (await payment_events(sessions, payment_id))[-1] == "refund.created"
    with pytest.raises(InvalidRequest):
        async with transaction(sessions) as session:
            await _refund_all(session, merchant_id, payment_id)


async def _refund_all(session: AsyncSession, merchant_id: uuid.UUID, payment_id: str) -> None:
    await refunds.create(session, merchant_id, uuid.UUID(payment_id), RefundCreate())
