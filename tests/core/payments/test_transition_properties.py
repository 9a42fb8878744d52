"""The payment state machine on the real database: random sequences of the operations the worker
and the API perform (processing, gateway steps, complete, fail, cancel, refunds and their
outcomes; a manual payment's capture, cancel, expiry and release; a challenge asked, answered
or timed out), each in its own transaction, as they happen in production.

After every operation: the status moved only along an allowed edge (or stayed), a terminal status
stayed terminal, `amountRefunded` equals the succeeded refunds and never exceeds what was
captured, and pending plus succeeded refunds never exceed it either; a hold's first decision is
never replaced. A refused operation must be refused with the contract's InvalidState (409) or
InvalidRequest (400), never anything else.
"""

import asyncio
import contextlib
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from payments_core.db.engine import create_engine, create_session_factory
from payments_core.db.session import transaction
from payments_core.errors import InvalidRequest, InvalidState
from payments_core.merchants.models import Merchant
from payments_core.payment_methods.models import PaymentMethod
from payments_core.payments import authentication, transitions
from payments_core.payments import service as payments
from payments_core.payments.models import Payment
from payments_core.payments.schemas import PaymentCreate
from payments_core.payments.status import (
    AuthenticationOutcome,
    CaptureMethod,
    HoldDecision,
    PaymentStatus,
    PaymentStep,
    can_step,
    can_transition,
)
from payments_core.refunds import service as refunds
from payments_core.refunds.models import Refund
from payments_core.refunds.schemas import RefundCreate
from payments_core.refunds.status import RefundStatus
from payments_core.settings import DEFAULT_CURRENCIES

T = TypeVar("T")
Sessions = async_sessionmaker[AsyncSession]
TERMINAL = {PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.REFUNDED}
MAX_AMOUNT = 1_000_000
HOUR = timedelta(hours=1)


@dataclass
class Database:
    """A loop of the test's own (Hypothesis drives sync tests) and sessions bound to it."""

    runner: asyncio.Runner
    sessions: Sessions
    merchant_id: uuid.UUID
    method_id: uuid.UUID

    def run(self, work: Awaitable[T]) -> T:
        return self.runner.run(work)  # type: ignore[arg-type]


async def _merchant_with_method(sessions: Sessions) -> tuple[uuid.UUID, uuid.UUID]:
    async with transaction(sessions) as session:
        merchant = Merchant(name="Properties", email=f"prop-{uuid.uuid4().hex}@example.test")
        session.add(merchant)
        await session.flush()
        method = PaymentMethod(merchant_id=merchant.id, type="ussd", metadata_={})
        session.add(method)
        await session.flush()
        return merchant.id, method.id


@pytest.fixture(scope="module")
def database(database_url: str) -> Iterator[Database]:
    with asyncio.Runner() as runner:
        engine = create_engine(database_url, pool_size=2)
        sessions = create_session_factory(engine)
        merchant_id, method_id = runner.run(_merchant_with_method(sessions))
        yield Database(runner, sessions, merchant_id, method_id)
        runner.run(engine.dispose())


Operation = tuple[str, int | None]
# The worker's gateway steps: begin one, or record one as finished.
STEP_OPERATIONS = {
    "authorizing": lambda session, payment_id: transitions.begin_step(
        session, payment_id, PaymentStep.AUTHORIZING
    ),
    "authorized": lambda session, payment_id: transitions.record_authorization(
        session, payment_id, "auth_test"
    ),
    "capturing": lambda session, payment_id: transitions.begin_step(
        session, payment_id, PaymentStep.CAPTURING
    ),
    "captured": lambda session, payment_id: _record_capture(session, payment_id),
    "voiding": lambda session, payment_id: transitions.begin_step(
        session, payment_id, PaymentStep.VOIDING
    ),
    "voided": lambda session, payment_id: transitions.record_void(session, payment_id),
    "authenticating": lambda session, payment_id: authentication.require(
        session, payment_id, public_base_url="http://127.0.0.1:3001", answer_within=HOUR
    ),
}
HOLD_AND_CHALLENGE = ["expire", "release", "approve", "decline", "authentication_timeout"]
operations = st.one_of(
    st.sampled_from(["start", "complete", "fail", "cancel", *STEP_OPERATIONS]).map(
        lambda name: (name, None)
    ),
    st.sampled_from(HOLD_AND_CHALLENGE).map(lambda name: (name, None)),
    st.tuples(st.just("capture"), st.none() | st.integers(1, MAX_AMOUNT)),
    st.tuples(st.just("refund"), st.none() | st.integers(1, MAX_AMOUNT)),
    st.tuples(st.sampled_from(["refund_succeeds", "refund_fails"]), st.integers(0, 3)),
)


async def _apply(
    db: Database, payment_id: uuid.UUID, refund_ids: list[uuid.UUID], operation: Operation
) -> None:
    name, argument = operation
    actions: dict[str, Callable[[AsyncSession], Awaitable[Any]]] = {
        "start": lambda session: transitions.start_processing(session, payment_id),
        "complete": lambda session: transitions.complete(session, payment_id),
        "fail": lambda session: transitions.fail(session, payment_id, "card_declined"),
        "cancel": lambda session: transitions.cancel(session, payment_id, db.merchant_id),
        "capture": lambda session: _decide(session, payment_id, HoldDecision.CAPTURE, argument),
        "expire": lambda session: _decide(session, payment_id, HoldDecision.EXPIRE, None),
        "release": lambda session: transitions.release(session, payment_id),
        "approve": lambda session: _answer(session, payment_id, AuthenticationOutcome.APPROVED),
        "decline": lambda session: _answer(session, payment_id, AuthenticationOutcome.DECLINED),
        "authentication_timeout": lambda session: authentication.settle(
            session, payment_id, timed_out=True
        ),
    }
    async with transaction(db.sessions) as session:
        if name in actions:
            await actions[name](session)
        elif name in STEP_OPERATIONS:
            await STEP_OPERATIONS[name](session, payment_id)
        elif name == "refund":
            refund, _ = await refunds.create(
                session, db.merchant_id, payment_id, RefundCreate(amount=argument)
            )
            refund_ids.append(refund.id)
        elif refund_ids:
            refund_id = refund_ids[(argument or 0) % len(refund_ids)]
            if name == "refund_succeeds":
                await refunds.succeed(session, refund_id, f"re_{uuid.uuid4().hex[:8]}")
            else:
                await refunds.fail(session, refund_id, "gateway_declined")


async def _record_capture(session: AsyncSession, payment_id: uuid.UUID) -> Payment:
    """What the capture activity records: the amount decided, all of it for automatic ones."""
    payment = await transitions.lock(session, payment_id)
    taken = payment.amount_to_capture or payment.amount
    return await transitions.record_capture(session, payment_id, "cap_test", taken)


async def _decide(
    session: AsyncSession, payment_id: uuid.UUID, decision: HoldDecision, amount: int | None
) -> Payment:
    payment = await transitions.lock(session, payment_id)
    return transitions.decide_hold(payment, decision, amount)


async def _answer(
    session: AsyncSession, payment_id: uuid.UUID, outcome: AuthenticationOutcome
) -> Payment | None:
    """Answer the challenge as the page does, by its token: the test knows it from the URL."""
    payment = await session.get(Payment, payment_id)
    assert payment is not None
    if not payment.next_action:
        return None
    token = payment.next_action["redirectToUrl"]["url"].rsplit("/", 1)[-1]
    return await authentication.answer(session, token, outcome)


async def _read(db: Database, payment_id: uuid.UUID) -> tuple[Payment, list[Refund]]:
    async with db.sessions() as session:
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        rows = await session.execute(select(Refund).where(col(Refund.payment_id) == payment_id))
        return payment, list(rows.scalars())


async def _create_payment(db: Database, amount: int, capture_method: CaptureMethod) -> uuid.UUID:
    request = PaymentCreate(
        amount=amount, payment_method_id=db.method_id, capture_method=capture_method
    )
    async with transaction(db.sessions) as session:
        payment = await payments.create(
            session, db.merchant_id, request, supported_currencies=DEFAULT_CURRENCIES
        )
        return payment.id


# Half the sequences start with a completed payment, so refunds are exercised as often as the
# way there.
completed_first = [("start", None), ("complete", None)]
sequences = st.sampled_from([[], completed_first]).flatmap(
    lambda prefix: st.lists(operations, max_size=12).map(lambda rest: prefix + rest)
)


@settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "40")),
    deadline=None,  # every step is a database round trip
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    amount=st.integers(1, MAX_AMOUNT),
    capture_method=st.sampled_from(CaptureMethod),
    steps=sequences,
)
def test_random_operations_keep_the_payment_legal(
    database: Database, amount: int, capture_method: CaptureMethod, steps: list[Operation]
) -> None:
    payment_id = database.run(_create_payment(database, amount, capture_method))
    refund_ids: list[uuid.UUID] = []
    status = PaymentStatus.PENDING
    ever_completed = False
    step: str | None = None
    decision: str | None = None
    for operation in steps:
        # A refusal the contract allows (409 / 400) is fine; anything else fails the test.
        with contextlib.suppress(InvalidState, InvalidRequest):
            database.run(_apply(database, payment_id, refund_ids, operation))
        payment, payment_refunds = database.run(_read(database, payment_id))
        new_status = PaymentStatus(payment.status)
        assert new_status == status or can_transition(status, new_status), (operation, status)
        if status in TERMINAL:
            assert new_status == status, f"{operation} left terminal {status}"
        status = new_status
        # The gateway step moves only along STEP_TRANSITIONS, and a captured payment never fails.
        assert payment.processing_step == step or can_step(
            step, PaymentStep(payment.processing_step)
        ), (operation, step)
        step = payment.processing_step
        if step == PaymentStep.CAPTURED:
            assert status != PaymentStatus.FAILED, "a captured payment failed"
        ever_completed = ever_completed or status == PaymentStatus.COMPLETED
        # The challenge's link (its token in clear) exists only while the challenge is open.
        assert (payment.next_action is not None) == (status == PaymentStatus.REQUIRES_ACTION)
        # Only manual payments wait at authorized; a hold's first decision is the only one.
        if status == PaymentStatus.AUTHORIZED:
            assert capture_method is CaptureMethod.MANUAL
        assert decision is None or payment.hold_decision == decision, (operation, decision)
        decision = payment.hold_decision
        assert payment.amount_captured <= payment.amount
        if status in (PaymentStatus.COMPLETED, PaymentStatus.REFUNDED):
            assert payment.amount_captured > 0
        succeeded = [r.amount for r in payment_refunds if r.status == RefundStatus.SUCCEEDED]
        committed = [r.amount for r in payment_refunds if r.status != RefundStatus.FAILED]
        assert payment.amount_refunded == sum(succeeded) <= payment.amount_captured
        assert sum(committed) <= payment.amount_captured
        assert all(r.currency == payment.currency for r in payment_refunds)
        if status == PaymentStatus.REFUNDED:
            assert payment.amount_refunded == payment.amount_captured
        if status == PaymentStatus.PARTIALLY_REFUNDED:
            assert 0 < payment.amount_refunded < payment.amount_captured
        if payment_refunds:
            assert ever_completed, "a refund of a payment that never completed"
        assert (payment.completed_at is not None) == ever_completed
