"""Customer authentication on the real Temporal dev server: the 3155 card makes the sandbox ask
for it, the payment waits at `requires_action` with a challenge URL, and the customer's answer
(written to PostgreSQL as the challenge page does) or the timeout decides what follows."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from payments_core.gateway.sandbox import SandboxConnector
from payments_core.payments import authentication
from payments_core.payments.status import AuthenticationOutcome
from payments_core.temporal import names
from payments_worker.activities import PaymentActivities
from payments_worker.payloads import PaymentOutcome
from payments_worker.worker import build_worker
from tests.worker.support import (
    AUTHENTICATION_CARD,
    Sessions,
    answer_challenge,
    card_method,
    create_payment,
    ledger,
    payment_events,
    result_of,
    start_payment,
    wait_for_status,
    wake,
)

PUBLIC_BASE_URL = "https://pay.example.test"
ANSWER_WITHIN = timedelta(seconds=3)
WAITING_EVENTS = ["payment.initiated", "payment.processing", "payment.requires_action"]


@pytest.fixture
async def authenticating_worker(
    client: Client,
    task_queue: str,
    sessions: async_sessionmaker[AsyncSession],
    sandbox: SandboxConnector,
) -> AsyncIterator[Worker]:
    """A worker whose challenges last ANSWER_WITHIN, so the timeout is part of the test."""
    activities = PaymentActivities(
        sessions,
        sandbox,
        gateway_call_timeout=timedelta(seconds=3),
        public_base_url=PUBLIC_BASE_URL,
        authentication_timeout=ANSWER_WITHIN,
    )
    async with build_worker(client, task_queue, activities) as running:
        yield running


pytestmark = pytest.mark.usefixtures("authenticating_worker")


async def _challenged(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
    capture_method: str = "automatic",
) -> tuple[str, str]:
    """(payment id, challenge token) once the payment waits for its customer."""
    method_id = await card_method(sessions, sandbox, merchant_id, AUTHENTICATION_CARD)
    payment_id = await create_payment(
        sessions,
        merchant_id,
        method_id,
        capture_method=capture_method,
        return_url="https://shop.example.test/done?order=7",
    )
    await start_payment(client, task_queue, payment_id)
    waiting = await wait_for_status(sessions, payment_id, "requires_action")
    assert waiting.next_action is not None
    url = waiting.next_action["redirectToUrl"]["url"]
    assert url.startswith(f"{PUBLIC_BASE_URL}{authentication.CHALLENGE_PATH}")
    assert waiting.next_action["redirectToUrl"]["returnUrl"] == (
        "https://shop.example.test/done?order=7"
    )
    token = url.rsplit("/", 1)[-1]
    # Only the token's hash is kept beside the URL, which is cleared once answered.
    assert waiting.authentication_token_hash == authentication.token_hash(token)
    assert token not in waiting.authentication_token_hash
    return payment_id, token


def _handle(client: Client, payment_id: str) -> WorkflowHandle[Any, PaymentOutcome]:
    return client.get_workflow_handle(
        names.payment_workflow_id(payment_id), result_type=PaymentOutcome
    )


async def test_an_approved_challenge_authorizes_and_completes(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id, token = await _challenged(sessions, sandbox, client, task_queue, merchant_id)
    # Nothing is held while the customer has not answered.
    assert await ledger(sessions, payment_id) == []

    answered = await answer_challenge(sessions, token, AuthenticationOutcome.APPROVED)
    assert answered is not None and answered.status == "processing"
    await wake(client, payment_id)

    assert await result_of(_handle(client, payment_id)) == PaymentOutcome("completed")
    assert await ledger(sessions, payment_id) == [
        ("authorize", "approved"),
        ("capture", "approved"),
    ]
    assert await payment_events(sessions, payment_id) == [
        *WAITING_EVENTS,
        "payment.processing",
        "payment.completed",
    ]
    # Single use: a second submission changes nothing.
    assert await answer_challenge(sessions, token, AuthenticationOutcome.DECLINED) is None


async def test_a_declined_challenge_fails_and_holds_nothing(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id, token = await _challenged(sessions, sandbox, client, task_queue, merchant_id)

    declined = await answer_challenge(sessions, token, AuthenticationOutcome.DECLINED)
    assert declined is not None
    assert (declined.status, declined.failure_reason) == ("failed", "authentication_failed")
    await wake(client, payment_id)

    assert (await result_of(_handle(client, payment_id))).status == "failed"
    assert await ledger(sessions, payment_id) == []
    assert await payment_events(sessions, payment_id) == [*WAITING_EVENTS, "payment.failed"]


async def test_an_unanswered_challenge_times_out_and_a_late_answer_is_refused(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id, token = await _challenged(sessions, sandbox, client, task_queue, merchant_id)

    assert (await result_of(_handle(client, payment_id))).status == "failed"

    payment = await wait_for_status(sessions, payment_id, "failed")
    assert payment.failure_reason == "authentication_timeout"
    assert payment.next_action is None
    assert await answer_challenge(sessions, token, AuthenticationOutcome.APPROVED) is None
    assert await ledger(sessions, payment_id) == []


async def test_an_answer_whose_signal_was_lost_is_found_when_the_wait_ends(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    """The page committed the approval but Temporal never heard of it: at its timeout the
    workflow reads the answer from PostgreSQL and goes on, rather than timing the payment out."""
    payment_id, token = await _challenged(sessions, sandbox, client, task_queue, merchant_id)

    assert await answer_challenge(sessions, token, AuthenticationOutcome.APPROVED) is not None

    assert await result_of(_handle(client, payment_id)) == PaymentOutcome("completed")


async def test_an_approved_manual_payment_stops_at_authorized(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id, token = await _challenged(
        sessions, sandbox, client, task_queue, merchant_id, capture_method="manual"
    )

    await answer_challenge(sessions, token, AuthenticationOutcome.APPROVED)
    await wake(client, payment_id)

    held = await wait_for_status(sessions, payment_id, "authorized")
    assert held.processing_step == "authorized"
    assert await ledger(sessions, payment_id) == [("authorize", "approved")]
    assert await payment_events(sessions, payment_id) == [
        *WAITING_EVENTS,
        "payment.processing",
        "payment.authorized",
    ]
