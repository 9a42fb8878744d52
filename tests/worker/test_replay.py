"""Determinism check: histories of representative runs replay against today's workflow code.

A change to the order or kind of the workflows' commands makes these fail: put it behind
`workflow.patched(...)` instead, so running workflows keep replaying.

The histories in tests/worker/histories/, one per branch of the workflows, are recorded by
`test_record_histories`, which runs only when asked (after an intended change, or to add a
scenario; a comma-separated list of names records only those):

    RECORD_WORKFLOW_HISTORIES=1 uv run pytest tests/worker/test_replay.py -k test_record_histories

Before re-recording after a `workflow.patched` change, keep the old history as `v<n>_<name>`
(EARLIER_VERSIONS): it proves workflows started before the change still replay.

Replay only checks the branches some history reaches: every activity, signal and update must
appear in one, and each scenario of the waits (waiting_scenarios) must show the branch it is
named for, so a recording that raced into another branch is refused rather than kept.
"""

import functools
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from payments_core.db.session import transaction
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.payments import transitions
from payments_core.refunds.models import Refund
from payments_core.temporal import names
from payments_core.temporal.inputs import PaymentWorkflowInput
from payments_worker.activities import PaymentActivities
from payments_worker.payloads import CompleteInput
from payments_worker.policies import BOOKKEEPING_RETRY, BOOKKEEPING_TIMEOUT, CAPTURE_RETRY
from payments_worker.worker import build_worker
from payments_worker.workflows import AUTHORIZING, PaymentProcessingWorkflow, RefundWorkflow
from tests.worker import waiting_scenarios
from tests.worker.clock_reading_workflow import ClockReadingPaymentWorkflow
from tests.worker.fallback_scenarios import UNREACHABLE, WORKING, Routed
from tests.worker.faults import CompletionLost, GatewayOutage
from tests.worker.support import (
    AMOUNT,
    CAPTURE_FAILS_CARD,
    DECLINED_CARD,
    INSUFFICIENT_FUNDS_CARD,
    REFUND_RUNS_OUT_SECONDS,
    REFUND_TIMEOUT_CARD,
    SUCCEEDING_CARDS,
    TIMEOUT_CARD,
    TRANSIENT_CARD,
    Sessions,
    card_payment,
    payment_row,
    result_of,
    run_payment,
    run_refund,
    start_payment,
    until_step,
)

HISTORIES = Path(__file__).parent / "histories"
WORKFLOWS = [PaymentProcessingWorkflow, RefundWorkflow]


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


# One history per branch of the workflows, recorded by test_record_histories.
SCENARIOS = {
    *(f"payment_card_{number}" for number in (*SUCCEEDING_CARDS, TRANSIENT_CARD)),
    f"payment_card_{REFUND_TIMEOUT_CARD}",
    "payment_completed",
    "payment_declined",
    "payment_insufficient_funds",
    "payment_capture_failed",
    "payment_gateway_timeout",
    "payment_cancelled",
    "payment_cancelled_in_the_database_first",
    "payment_cancel_signal_during_authorization",
    "payment_capture_recorded_completion_lost",
    "payment_capture_answer_lost_void_refused",
    "refund_succeeded",
    "refund_failed",
    "refund_outcome_unknown",
    "payment_fell_back",
    *waiting_scenarios.SCENARIOS,
}
# Recorded by earlier versions of the workflows and kept: running workflows started then must
# still replay. v1_refund_outcome_unknown_failed is the branch before the
# refund-outcome-unknown-stays-pending patch (a refund that timed out was failed).
EARLIER_VERSIONS = {
    "v1_payment_cancelled",
    "v1_payment_capture_failed",
    "v1_payment_completed",
    "v1_payment_declined",
    "v1_payment_gateway_timeout",
    "v1_refund_succeeded",
    "v1_refund_outcome_unknown_failed",
    # Before local-bookkeeping: every database step a task of its own.
    *(
        f"v2_{name}"
        for name in (
            "payment_completed",
            "payment_declined",
            "payment_manual_captured",
            "payment_authentication_approved",
            "payment_cancelled",
            "refund_succeeded",
            "refund_failed",
            "payment_fell_back",
        )
    ),
}


def test_every_scenario_has_a_history() -> None:
    assert {path.stem for path in recorded()} == SCENARIOS | EARLIER_VERSIONS


def sandboxed_replayer() -> Replayer:
    """The worker runs workflows without the sandbox (payments_worker.worker.workflow_runner):
    replaying every branch in it here is what keeps the workflows within its rules."""
    return Replayer(workflows=WORKFLOWS, workflow_runner=SandboxedWorkflowRunner())


@pytest.mark.parametrize("path", recorded(), ids=lambda path: path.stem)
async def test_history_replays(path: Path) -> None:
    await sandboxed_replayer().replay_workflow(load(path))


async def test_the_sandboxed_replay_refuses_a_workflow_reading_the_clock() -> None:
    replayer = Replayer(
        workflows=[ClockReadingPaymentWorkflow], workflow_runner=SandboxedWorkflowRunner()
    )
    result = await replayer.replay_workflow(
        load(HISTORIES / "payment_completed.json"), raise_on_replay_failure=False
    )
    assert result.replay_failure is not None
    assert "datetime.datetime.now" in str(result.replay_failure)


@pytest.mark.parametrize("name", sorted(waiting_scenarios.SCENARIOS))
def test_a_waiting_scenario_shows_its_branch(name: str) -> None:
    history = load(HISTORIES / f"{name}.json")
    _assert_shows_its_branch(name, history)


def test_every_activity_signal_and_update_is_replayed() -> None:
    """A branch that calls an activity, or listens for a signal or an update, that no recorded
    history reaches would go unchecked by replay: record a scenario for it."""
    seen = {
        milestone for path in recorded() for milestone in waiting_scenarios.milestones(load(path))
    }
    activities = {method.__name__ for method in PaymentActivities.all(_unbuilt_activities())}
    signals = {f"signal {name}" for name in (names.CANCEL_SIGNAL, names.WAKE_SIGNAL)}
    updates = {waiting_scenarios.UPDATE_ACCEPTED, waiting_scenarios.UPDATE_COMPLETED}
    assert activities | signals | updates | {waiting_scenarios.TIMER_FIRED} <= seen


def _unbuilt_activities() -> PaymentActivities:
    """An instance only to list the activities: nothing it holds is used."""
    return PaymentActivities.__new__(PaymentActivities)


def _assert_shows_its_branch(name: str, history: WorkflowHistory) -> None:
    scenario = waiting_scenarios.SCENARIOS[name]
    assert waiting_scenarios.milestones(history) == list(scenario.milestones)
    assert waiting_scenarios.outcome(history) == scenario.outcome
    assert waiting_scenarios.captures(history) == list(scenario.captures)


@workflow.defn(name=names.PAYMENT_WORKFLOW)
class ReorderedPaymentWorkflow:
    """A careless change: completes before anything else."""

    @workflow.run
    async def run(self, request: PaymentWorkflowInput) -> None:
        await workflow.execute_activity_method(
            PaymentActivities.complete,
            CompleteInput(request.payment_id),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )


async def test_a_reordered_workflow_fails_replay() -> None:
    # Unsandboxed: the sandbox would re-import this test module and all it imports.
    replayer = Replayer(
        workflows=[ReorderedPaymentWorkflow], workflow_runner=UnsandboxedWorkflowRunner()
    )
    history = load(HISTORIES / "payment_completed.json")
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history)


def _selected(scenario: str) -> bool:
    """RECORD_WORKFLOW_HISTORIES=1 records every scenario; a comma-separated list, those only."""
    wanted = os.environ.get("RECORD_WORKFLOW_HISTORIES", "")
    return wanted == "1" or scenario in wanted.split(",")


@pytest.mark.skipif(
    not os.environ.get("RECORD_WORKFLOW_HISTORIES"),
    reason="records histories only when RECORD_WORKFLOW_HISTORIES is set",
)
@pytest.mark.usefixtures("worker")
async def test_record_histories(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    async def payment(number: str) -> str:
        payment_id = await card_payment(sessions, sandbox, merchant_id, number)
        await run_payment(client, task_queue, payment_id)
        return names.payment_workflow_id(payment_id)

    async def cancelled_before_authorization() -> str:
        payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
        # The worker may pick the start up first: either way the signal is in the history.
        handle = await start_payment(client, task_queue, payment_id)
        await handle.signal(names.CANCEL_SIGNAL)
        await result_of(handle)
        return handle.id

    async def cancelled_in_the_database_first() -> str:
        payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
        async with transaction(sessions) as session:
            await transitions.cancel(session, uuid.UUID(payment_id))
        return await _run(client, task_queue, payment_id)

    async def cancel_signal_during_authorization() -> str:
        # The never-answering card keeps the workflow in its authorization long enough.
        payment_id = await card_payment(sessions, sandbox, merchant_id, TIMEOUT_CARD)
        handle = await start_payment(client, task_queue, payment_id)
        await until_step(handle, AUTHORIZING)
        await handle.signal(names.CANCEL_SIGNAL)
        await result_of(handle)
        return handle.id

    async def with_gateway(gateway: object, activities: type[PaymentActivities]) -> str:
        payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
        queue = f"record-{uuid.uuid4().hex}"
        async with build_worker(client, queue, activities(sessions, gateway)):  # type: ignore[arg-type]
            return await _run(client, queue, payment_id)

    async def refund(card: str, amount: int) -> str:
        payment_id = await card_payment(sessions, sandbox, merchant_id, card)
        await run_payment(client, task_queue, payment_id)
        refund_id = await _refund_row(sessions, merchant_id, payment_id, amount)
        await run_refund(
            client, task_queue, refund_id, payment_id, timeout_seconds=REFUND_RUNS_OUT_SECONDS
        )
        return names.refund_workflow_id(refund_id)

    async def fell_back() -> str:
        # Its first connector never reached, its second completes (fallback_scenarios).
        routed = Routed(sessions, sandbox, client)
        payment_id, _ = await routed.payment(UNREACHABLE, WORKING)
        return await routed.run(payment_id)

    recording = waiting_scenarios.Recording(sessions, sandbox, client, task_queue, merchant_id)
    lost_answer = GatewayOutage(
        sandbox, failing_captures=2 * CAPTURE_RETRY.maximum_attempts - 1, lose_first_answer=True
    )
    scenarios: dict[str, Callable[[], Awaitable[str]]] = {
        **{
            f"payment_card_{number}": functools.partial(payment, number)
            for number in (*SUCCEEDING_CARDS, TRANSIENT_CARD, REFUND_TIMEOUT_CARD)
        },
        "payment_completed": lambda: payment(SUCCEEDING_CARDS[0]),
        "payment_declined": lambda: payment(DECLINED_CARD),
        "payment_insufficient_funds": lambda: payment(INSUFFICIENT_FUNDS_CARD),
        "payment_capture_failed": lambda: payment(CAPTURE_FAILS_CARD),
        "payment_gateway_timeout": lambda: payment(TIMEOUT_CARD),
        "payment_cancelled": cancelled_before_authorization,
        "payment_cancelled_in_the_database_first": cancelled_in_the_database_first,
        "payment_cancel_signal_during_authorization": cancel_signal_during_authorization,
        "payment_capture_recorded_completion_lost": lambda: with_gateway(
            GatewayOutage(sandbox), CompletionLost
        ),
        "payment_capture_answer_lost_void_refused": lambda: with_gateway(
            lost_answer, PaymentActivities
        ),
        "refund_succeeded": lambda: refund(SUCCEEDING_CARDS[0], 1_000),
        "refund_failed": lambda: refund(SUCCEEDING_CARDS[0], AMOUNT + 1),
        "refund_outcome_unknown": lambda: refund(REFUND_TIMEOUT_CARD, 1_000),
        "payment_fell_back": fell_back,
        **{
            name: functools.partial(scenario.record, recording)
            for name, scenario in waiting_scenarios.SCENARIOS.items()
        },
    }
    assert set(scenarios) == SCENARIOS
    HISTORIES.mkdir(exist_ok=True)
    for name, scenario in scenarios.items():
        if not _selected(name):
            continue
        workflow_id = await scenario()
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        if name in waiting_scenarios.SCENARIOS:  # never keep a recording of another branch
            _assert_shows_its_branch(name, history)
        document = json.dumps(history.to_json_dict(), indent=1, sort_keys=True)
        (HISTORIES / f"{name}.json").write_text(document + "\n")


async def _run(client: Client, task_queue: str, payment_id: str) -> str:
    await run_payment(client, task_queue, payment_id)
    return names.payment_workflow_id(payment_id)


async def _refund_row(
    sessions: Sessions, merchant_id: uuid.UUID, payment_id: str, amount: int
) -> str:
    """A pending refund written directly, so that one larger than the capture reaches the
    gateway (the service would refuse it) and the gateway's refusal is recorded."""
    payment = await payment_row(sessions, payment_id)
    refund = Refund(
        payment_id=payment.id, merchant_id=merchant_id, amount=amount, currency=payment.currency
    )
    async with transaction(sessions) as session:
        session.add(refund)
    return str(refund.id)
