"""Factories and readers for the worker tests: everything through the library, not the API."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy

from payments_core.connectors.gateways import Gateways
from payments_core.db.session import transaction
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.gateway.sandbox.ledger import entry_for_key, ledger_for_payment
from payments_core.merchants.models import Merchant
from payments_core.outbox.models import OutboxMessage
from payments_core.payment_methods import service as payment_methods
from payments_core.payment_methods.schemas import PaymentMethodCreate
from payments_core.payments import authentication, transitions
from payments_core.payments import service as payments
from payments_core.payments.models import Payment
from payments_core.payments.schemas import PaymentCreate
from payments_core.payments.status import AuthenticationOutcome, HoldDecision
from payments_core.refunds import service as refunds
from payments_core.refunds.models import Refund
from payments_core.refunds.schemas import RefundCreate
from payments_core.settings import DEFAULT_CURRENCIES
from payments_core.temporal import names
from payments_core.temporal.inputs import PaymentWorkflowInput, RefundWorkflowInput
from payments_worker.payloads import PaymentOutcome, RefundOutcome
from tests.core.consumer.support import eventually

# The sandbox's "never answers" card keeps an authorization waiting this long per attempt.
ANSWER_TIMEOUT = timedelta(milliseconds=300)
RESULT_TIMEOUT_SECONDS = 30
# A refund call that never answers runs out REFUND_RETRY: its backoff alone is 35.5 s.
REFUND_RUNS_OUT_SECONDS = 90

SUCCEEDING_CARDS = ("4242424242424242", "5555555555554444", "5060666666666666666")
DECLINED_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
TRANSIENT_CARD = "4000000000000119"
CAPTURE_FAILS_CARD = "4000000000000259"
TIMEOUT_CARD = "4000000000000341"
REFUND_TIMEOUT_CARD = "4000000000009235"
AUTHENTICATION_CARD = "4000002500003155"

AMOUNT = 10_000

Sessions = async_sessionmaker[AsyncSession]
T = TypeVar("T")


async def create_merchant(sessions: Sessions) -> uuid.UUID:
    merchant = Merchant(name="Worker Test", email=f"worker-{uuid.uuid4().hex}@example.com")
    async with transaction(sessions) as session:
        session.add(merchant)
    return merchant.id


async def card_method(
    sessions: Sessions, sandbox: SandboxConnector, merchant_id: uuid.UUID, number: str
) -> uuid.UUID:
    card = {"number": number, "expMonth": 12, "expYear": 2035, "cvc": "123"}
    request = PaymentMethodCreate.model_validate({"type": "card", "card": card})
    async with transaction(sessions) as session:
        method = await payment_methods.register(
            session, merchant_id, request, Gateways.sandbox_only(sandbox)
        )
    return method.id


async def bank_transfer_method(
    sessions: Sessions, sandbox: SandboxConnector, merchant_id: uuid.UUID
) -> uuid.UUID:
    request = PaymentMethodCreate.model_validate(
        {"type": "bank_transfer", "accountNumber": "0123456789", "bankCode": "058"}
    )
    async with transaction(sessions) as session:
        method = await payment_methods.register(
            session, merchant_id, request, Gateways.sandbox_only(sandbox)
        )
    return method.id


async def create_payment(
    sessions: Sessions,
    merchant_id: uuid.UUID,
    method_id: uuid.UUID,
    amount: int = AMOUNT,
    *,
    capture_method: str = "automatic",
    authorization_ttl: timedelta = payments.DEFAULT_AUTHORIZATION_TTL,
    return_url: str | None = None,
) -> str:
    request = PaymentCreate.model_validate(
        {
            "amount": amount,
            "paymentMethodId": str(method_id),
            "captureMethod": capture_method,
            "returnUrl": return_url,
        }
    )
    async with transaction(sessions) as session:
        payment = await payments.create(
            session,
            merchant_id,
            request,
            supported_currencies=DEFAULT_CURRENCIES,
            authorization_ttl=authorization_ttl,
        )
    return str(payment.id)


async def card_payment(
    sessions: Sessions, sandbox: SandboxConnector, merchant_id: uuid.UUID, number: str
) -> str:
    method_id = await card_method(sessions, sandbox, merchant_id, number)
    return await create_payment(sessions, merchant_id, method_id)


async def create_refund(
    sessions: Sessions, merchant_id: uuid.UUID, payment_id: str, amount: int | None = None
) -> str:
    request = RefundCreate.model_validate({} if amount is None else {"amount": amount})
    async with transaction(sessions) as session:
        refund, _ = await refunds.create(session, merchant_id, uuid.UUID(payment_id), request)
    return str(refund.id)


async def start_payment(
    client: Client, task_queue: str, payment_id: str
) -> WorkflowHandle[Any, PaymentOutcome]:
    return await client.start_workflow(
        names.PAYMENT_WORKFLOW,
        PaymentWorkflowInput(payment_id),
        id=names.payment_workflow_id(payment_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        result_type=PaymentOutcome,
    )


async def run_payment(client: Client, task_queue: str, payment_id: str) -> PaymentOutcome:
    handle = await start_payment(client, task_queue, payment_id)
    return await result_of(handle)


async def run_refund(
    client: Client,
    task_queue: str,
    refund_id: str,
    payment_id: str,
    *,
    timeout_seconds: float = RESULT_TIMEOUT_SECONDS,
) -> RefundOutcome:
    handle = await client.start_workflow(
        names.REFUND_WORKFLOW,
        RefundWorkflowInput(refund_id, payment_id),
        id=names.refund_workflow_id(refund_id),
        task_queue=task_queue,
        result_type=RefundOutcome,
    )
    return await result_of(handle, timeout_seconds)


async def result_of(
    handle: WorkflowHandle[Any, T], timeout_seconds: float = RESULT_TIMEOUT_SECONDS
) -> T:
    # result() long-polls again and again: only an overall deadline bounds it.
    async with asyncio.timeout(timeout_seconds):
        return await handle.result()


async def until_step(handle: WorkflowHandle[Any, Any], step: str) -> None:
    """Until the workflow's CURRENT_STEP_QUERY answers `step`."""
    async with asyncio.timeout(RESULT_TIMEOUT_SECONDS):
        while True:
            if await handle.query(names.CURRENT_STEP_QUERY) == step:
                return
            await asyncio.sleep(0.05)


async def decide_hold(
    sessions: Sessions, payment_id: str, decision: HoldDecision, amount: int | None = None
) -> None:
    """What the API's capture and cancel do before they tell the workflow."""
    async with transaction(sessions) as session:
        payment = await transitions.lock(session, uuid.UUID(payment_id))
        transitions.decide_hold(payment, decision, amount)


async def hold_decided(client: Client, payment_id: str) -> str:
    """The API's HOLD_DECIDED_UPDATE: the payment's status once the workflow carried it out."""
    handle = client.get_workflow_handle(names.payment_workflow_id(payment_id))
    status: str = await handle.execute_update(names.HOLD_DECIDED_UPDATE, result_type=str)
    return status


def challenge_token(payment: Payment) -> str:
    """The token at the end of the challenge URL of a payment at requires_action."""
    assert payment.next_action is not None
    url: str = payment.next_action["redirectToUrl"]["url"]
    return url.rsplit("/", 1)[-1]


async def answer_challenge(
    sessions: Sessions, token: str, outcome: AuthenticationOutcome
) -> Payment | None:
    """What the challenge page's POST does."""
    async with transaction(sessions) as session:
        return await authentication.answer(session, token, outcome)


async def wake(client: Client, payment_id: str) -> None:
    await client.get_workflow_handle(names.payment_workflow_id(payment_id)).signal(
        names.WAKE_SIGNAL
    )


async def wait_for_status(sessions: Sessions, payment_id: str, status: str) -> Payment:
    """The payment once it reached `status` (a workflow waiting at authorized or requires_action
    does not end, so there is no result to wait for)."""
    payment = await payment_row(sessions, payment_id)

    async def reached() -> bool:
        nonlocal payment
        payment = await payment_row(sessions, payment_id)
        return payment.status == status

    await eventually(reached, within=RESULT_TIMEOUT_SECONDS, what=f"{payment_id} {status}")
    return payment


async def payment_row(sessions: Sessions, payment_id: str) -> Payment:
    async with sessions() as session:
        payment = await session.get(Payment, uuid.UUID(payment_id))
    assert payment is not None
    return payment


async def refund_row(sessions: Sessions, refund_id: str) -> Refund:
    async with sessions() as session:
        refund = await session.get(Refund, uuid.UUID(refund_id))
    assert refund is not None
    return refund


async def payment_events(sessions: Sessions, payment_id: str) -> list[str]:
    """Event types in the outbox about this payment, in the order they were written."""
    statement = (
        select(col(OutboxMessage.event_type))
        .where(text("payload -> 'data' -> 'payment' ->> 'id' = :payment_id"))
        .order_by(col(OutboxMessage.created_at))
        .params(payment_id=payment_id)
    )
    async with sessions() as session:
        return list((await session.execute(statement)).scalars())


async def ledger(sessions: Sessions, payment_id: str) -> list[tuple[str, str]]:
    """(operation, outcome) of every sandbox ledger row of the payment, oldest first."""
    async with sessions() as session:
        entries = await ledger_for_payment(session, payment_id)
        tombstone = await entry_for_key(session, f"{payment_id}-authorize")
    rows = [(entry.operation, entry.outcome) for entry in entries]
    if tombstone is not None and tombstone.payment_id is None:
        rows.append((tombstone.operation, tombstone.outcome))
    return rows
