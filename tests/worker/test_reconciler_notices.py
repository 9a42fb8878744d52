"""The processor's notices (connector_notices, kept by POST /connectors/{id}/webhooks) go down
the reconciler's own path (issue 15, item 5): a running workflow is only woken, a payment whose
workflow is not running is settled by asking the gateway, and each notice is marked processed.

The payments here are fresh (not stale): only the notice brings the reconciler to them. They are
the sandbox's (connector_id NULL); the notice's connector is a row that only names the merchant.
"""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import col
from structlog.testing import capture_logs
from temporalio.client import Client

from payments_core.connectors.models import Connector, ConnectorNotice
from payments_core.db.session import transaction
from payments_core.gateway.connector import CaptureRequest
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.payments import transitions
from payments_core.payments.models import Payment
from payments_core.payments.status import PaymentStep
from payments_worker.activities import capture_key
from payments_worker.reconciler.janitor import Reconciler
from payments_worker.reconciler.settle import Settler
from tests.worker.support import (
    AMOUNT,
    SUCCEEDING_CARDS,
    Sessions,
    card_payment,
    ledger,
    payment_events,
    payment_row,
    start_payment,
)
from tests.worker.test_reconciler import authorized

# Received long ago: the oldest unprocessed notices, whatever other tests left behind.
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)


def reconciler(sessions: Sessions, sandbox: SandboxConnector, client: Client) -> Reconciler:
    """Stale rows only from before 1990: this round's work is the notices."""
    settler = Settler(sessions, sandbox, call_timeout=timedelta(seconds=5))
    after = datetime.now(UTC) - datetime(1990, 1, 1, tzinfo=UTC)
    return Reconciler(sessions, settler, client, after=after, interval=timedelta(seconds=1))


async def notice(sessions: Sessions, merchant_id: uuid.UUID, payment_id: str | None) -> str:
    """A kept, unprocessed notice of a connector of the merchant; returns its event id."""
    event_id = f"evt_{uuid.uuid4().hex}"
    async with transaction(sessions) as session:
        connector = Connector(
            merchant_id=merchant_id,
            type="stripe",
            mode="test",
            credentials_sealed="unused",
            credentials_last4="test",
        )
        session.add(connector)
        await session.flush()
        session.add(
            ConnectorNotice(
                connector_id=connector.id,
                event_id=event_id,
                type="payment_intent.succeeded",
                payment_id=uuid.UUID(payment_id) if payment_id else None,
                received_at=LONG_AGO,
            )
        )
    return event_id


async def notice_row(sessions: Sessions, event_id: str) -> ConnectorNotice:
    async with sessions() as session:
        statement = select(ConnectorNotice).where(col(ConnectorNotice.event_id) == event_id)
        return (await session.execute(statement)).scalar_one()


async def test_a_notice_settles_a_payment_whose_workflow_never_ran(
    sessions: Sessions, sandbox: SandboxConnector, client: Client, merchant_id: uuid.UUID
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    authorization = await authorized(sessions, sandbox, payment_id)
    async with transaction(sessions) as session:
        await transitions.begin_step(session, uuid.UUID(payment_id), PaymentStep.CAPTURING)
    # Captured at the gateway; the answer never came back and no workflow runs it.
    await sandbox.capture(CaptureRequest(capture_key(payment_id), authorization, AMOUNT, "NGN"))
    event_id = await notice(sessions, merchant_id, payment_id)

    with capture_logs() as logs:
        result = await reconciler(sessions, sandbox, client).reconcile_once()

    assert result.notices.get("completed", 0) >= 1
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step) == ("completed", "captured")
    assert (await payment_events(sessions, payment_id))[-1] == "payment.completed"
    kept = await notice_row(sessions, event_id)
    assert kept.processed_at is not None and kept.outcome == "completed"
    lines = [line for line in logs if line.get("event_id") == event_id]
    assert [(line["event"], line["payment_id"], line["outcome"]) for line in lines] == [
        ("reconciler.notice", payment_id, "completed")
    ]
    # Processed once: the next round leaves it, and the payment, alone.
    await reconciler(sessions, sandbox, client).reconcile_once()
    assert (await notice_row(sessions, event_id)).processed_at == kept.processed_at


async def test_a_notice_for_a_running_workflow_only_wakes_it(
    sessions: Sessions, sandbox: SandboxConnector, client: Client, merchant_id: uuid.UUID
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    await authorized(sessions, sandbox, payment_id)
    # Started on a queue no worker polls: running, as far as Temporal knows.
    handle = await start_payment(client, f"no-worker-{uuid.uuid4().hex}", payment_id)
    event_id = await notice(sessions, merchant_id, payment_id)
    try:
        await reconciler(sessions, sandbox, client).reconcile_once()
        history = [event async for event in handle.fetch_history_events()]
    finally:
        await handle.terminate("test over")

    kept = await notice_row(sessions, event_id)
    assert kept.processed_at is not None and kept.outcome == "woken"
    assert any(event.HasField("workflow_execution_signaled_event_attributes") for event in history)
    # Not settled: the workflow finishes it.
    payment = await payment_row(sessions, payment_id)
    assert (payment.status, payment.processing_step) == ("processing", "authorized")
    assert await ledger(sessions, payment_id) == [("authorize", "approved")]


async def test_a_notice_naming_no_payment_is_ignored_and_a_final_one_unchanged(
    sessions: Sessions, sandbox: SandboxConnector, client: Client, merchant_id: uuid.UUID
) -> None:
    final = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
    async with transaction(sessions) as session:
        payment = await session.get(Payment, uuid.UUID(final))
        assert payment is not None
        payment.status = "cancelled"
    nameless = await notice(sessions, merchant_id, None)
    for_final = await notice(sessions, merchant_id, final)

    await reconciler(sessions, sandbox, client).reconcile_once()

    assert (await notice_row(sessions, nameless)).outcome == "ignored"
    assert (await notice_row(sessions, for_final)).outcome == "unchanged"
    assert (await payment_row(sessions, final)).status == "cancelled"
    assert await ledger(sessions, final) == []
