"""Determinism check: histories of representative runs replay against today's workflow code.

A change to the order or kind of the workflows' commands makes these fail: put it behind
`workflow.patched(...)` instead, so running workflows keep replaying.

The histories in tests/worker/histories/ are recorded by `test_record_histories`, which runs
only when asked (after an intended change, or to add a scenario):

    RECORD_WORKFLOW_HISTORIES=1 uv run pytest tests/worker/test_replay.py -k record
"""

import json
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from payments_core.gateway.sandbox import SandboxConnector
from payments_core.temporal import names
from payments_core.temporal.inputs import PaymentWorkflowInput
from payments_worker.activities import PaymentActivities
from payments_worker.payloads import CompleteInput
from payments_worker.policies import BOOKKEEPING_RETRY, BOOKKEEPING_TIMEOUT
from payments_worker.workflows import PaymentProcessingWorkflow, RefundWorkflow
from tests.worker.support import (
    CAPTURE_FAILS_CARD,
    DECLINED_CARD,
    SUCCEEDING_CARDS,
    TIMEOUT_CARD,
    Sessions,
    card_payment,
    create_refund,
    result_of,
    run_payment,
    run_refund,
    start_payment,
)

HISTORIES = Path(__file__).parent / "histories"
WORKFLOWS = [PaymentProcessingWorkflow, RefundWorkflow]


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_every_scenario_has_a_history() -> None:
    names_ = {path.stem for path in recorded()}
    assert {
        "payment_completed",
        "payment_declined",
        "payment_capture_failed",
        "payment_gateway_timeout",
        "payment_cancelled",
        "refund_succeeded",
    } <= names_


@pytest.mark.parametrize("path", recorded(), ids=lambda path: path.stem)
async def test_history_replays(path: Path) -> None:
    await Replayer(workflows=WORKFLOWS).replay_workflow(load(path))


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

    async def cancelled() -> str:
        payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
        # The worker may pick the start up first: either way the signal is in the history.
        handle = await start_payment(client, task_queue, payment_id)
        await handle.signal(names.CANCEL_SIGNAL)
        await result_of(handle)
        return handle.id

    async def refund() -> str:
        payment_id = await card_payment(sessions, sandbox, merchant_id, SUCCEEDING_CARDS[0])
        await run_payment(client, task_queue, payment_id)
        refund_id = await create_refund(sessions, merchant_id, payment_id, amount=1_000)
        await run_refund(client, task_queue, refund_id, payment_id)
        return names.refund_workflow_id(refund_id)

    scenarios: dict[str, Callable[[], Awaitable[str]]] = {
        "payment_completed": lambda: payment(SUCCEEDING_CARDS[0]),
        "payment_declined": lambda: payment(DECLINED_CARD),
        "payment_capture_failed": lambda: payment(CAPTURE_FAILS_CARD),
        "payment_gateway_timeout": lambda: payment(TIMEOUT_CARD),
        "payment_cancelled": cancelled,
        "refund_succeeded": refund,
    }
    HISTORIES.mkdir(exist_ok=True)
    for name, scenario in scenarios.items():
        workflow_id = await scenario()
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        document = json.dumps(history.to_json_dict(), indent=1, sort_keys=True)
        (HISTORIES / f"{name}.json").write_text(document + "\n")
