"""Replay scenarios of the payment workflow's waits: for the merchant's decision on a hold
(capture later) and for the customer's answer to a challenge (authentication).

Each scenario says how test_replay records its history and what that history must show: the
activities, signals, updates and fired timers of its branch, in order, and the outcome. A
re-recording that silently took another branch (an update that arrived after the expiry, a
timeout that beat the answer) fails test_replay rather than replacing the branch under test.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.converter import DataConverter

from payments_core.gateway.sandbox import SandboxConnector
from payments_core.payments.status import AuthenticationOutcome, HoldDecision
from payments_worker.activities import PaymentActivities
from payments_worker.payloads import CaptureInput, PaymentOutcome
from payments_worker.worker import build_worker
from payments_worker.workflows import AWAITING_AUTHENTICATION, AWAITING_CAPTURE
from tests.worker.support import (
    AMOUNT,
    AUTHENTICATION_CARD,
    CAPTURE_FAILS_CARD,
    SUCCEEDING_CARDS,
    Sessions,
    answer_challenge,
    card_method,
    challenge_token,
    create_payment,
    decide_hold,
    hold_decided,
    result_of,
    start_payment,
    until_step,
    wait_for_status,
    wake,
)

# Long enough for the authorization to come first, short enough to wait for in a recording.
SHORT_TTL = timedelta(seconds=3)
SHORT_AUTHENTICATION_TIMEOUT = timedelta(seconds=3)
PARTIAL_CAPTURE = 4_000

TIMER_FIRED = "timer fired"
WAKE = "signal wake"
UPDATE_ACCEPTED = "update hold_decided accepted"
UPDATE_COMPLETED = "update hold_decided completed"


@dataclass(frozen=True)
class Recording:
    """The recording test's fixtures, which every scenario drives."""

    sessions: Sessions
    sandbox: SandboxConnector
    client: Client
    task_queue: str
    merchant_id: uuid.UUID

    async def start(
        self,
        number: str,
        *,
        capture_method: str = "automatic",
        ttl: timedelta = timedelta(days=7),
        task_queue: str | None = None,
    ) -> WorkflowHandle[Any, PaymentOutcome]:
        method_id = await card_method(self.sessions, self.sandbox, self.merchant_id, number)
        payment_id = await create_payment(
            self.sessions,
            self.merchant_id,
            method_id,
            capture_method=capture_method,
            authorization_ttl=ttl,
            return_url="https://shop.example.test/done",
        )
        return await start_payment(self.client, task_queue or self.task_queue, payment_id)

    async def held(self, handle: WorkflowHandle[Any, PaymentOutcome]) -> str:
        """The payment id once the workflow waits at `authorized` on its expiry timer."""
        payment_id = _payment_id(handle)
        await wait_for_status(self.sessions, payment_id, "authorized")
        await until_step(handle, AWAITING_CAPTURE)
        return payment_id

    async def challenged(self, handle: WorkflowHandle[Any, PaymentOutcome]) -> str:
        """The challenge's token once the workflow waits for the customer on its timer."""
        waiting = await wait_for_status(self.sessions, _payment_id(handle), "requires_action")
        await until_step(handle, AWAITING_AUTHENTICATION)
        return challenge_token(waiting)

    async def decided(
        self,
        handle: WorkflowHandle[Any, PaymentOutcome],
        decision: HoldDecision,
        amount: int | None = None,
    ) -> str:
        """Decide on the hold as the API does, tell the workflow through the update."""
        payment_id = await self.held(handle)
        await decide_hold(self.sessions, payment_id, decision, amount)
        await hold_decided(self.client, payment_id)
        await result_of(handle)
        return handle.id


async def manual_captured(recording: Recording, amount: int | None = None) -> str:
    handle = await recording.start(SUCCEEDING_CARDS[0], capture_method="manual")
    return await recording.decided(handle, HoldDecision.CAPTURE, amount)


async def manual_cancelled(recording: Recording) -> str:
    handle = await recording.start(SUCCEEDING_CARDS[0], capture_method="manual")
    return await recording.decided(handle, HoldDecision.CANCEL)


async def manual_capture_refused(recording: Recording) -> str:
    handle = await recording.start(CAPTURE_FAILS_CARD, capture_method="manual")
    return await recording.decided(handle, HoldDecision.CAPTURE)


async def manual_expired(recording: Recording) -> str:
    handle = await recording.start(SUCCEEDING_CARDS[0], capture_method="manual", ttl=SHORT_TTL)
    await result_of(handle)
    return handle.id


async def manual_capture_woken(recording: Recording) -> str:
    """The API's update was lost: only the reconciler's wake tells the workflow."""
    handle = await recording.start(SUCCEEDING_CARDS[0], capture_method="manual")
    payment_id = await recording.held(handle)
    await decide_hold(recording.sessions, payment_id, HoldDecision.CAPTURE)
    await wake(recording.client, payment_id)
    await result_of(handle)
    return handle.id


async def authentication_answered(
    recording: Recording, outcome: AuthenticationOutcome, capture_method: str = "automatic"
) -> str:
    handle = await recording.start(AUTHENTICATION_CARD, capture_method=capture_method)
    token = await recording.challenged(handle)
    await answer_challenge(recording.sessions, token, outcome)
    await wake(recording.client, _payment_id(handle))
    if capture_method == "manual":
        return await recording.decided(handle, HoldDecision.CAPTURE)
    await result_of(handle)
    return handle.id


async def authentication_timed_out(recording: Recording) -> str:
    activities = PaymentActivities(
        recording.sessions,
        recording.sandbox,
        gateway_call_timeout=timedelta(seconds=3),
        authentication_timeout=SHORT_AUTHENTICATION_TIMEOUT,
    )
    queue = f"record-{uuid.uuid4().hex}"
    async with build_worker(recording.client, queue, activities):
        handle = await recording.start(AUTHENTICATION_CARD, task_queue=queue)
        await recording.challenged(handle)
        await result_of(handle)
    return handle.id


def _payment_id(handle: WorkflowHandle[Any, Any]) -> str:
    return handle.id.removeprefix("payment-")


@dataclass(frozen=True)
class Scenario:
    record: Callable[[Recording], Awaitable[str]]
    # Activities scheduled, signals, hold_decided updates and fired timers, in history order.
    milestones: tuple[str, ...]
    outcome: PaymentOutcome
    # The amount of each capture asked of the gateway.
    captures: tuple[int, ...] = ()


# start_processing begins the first authorization, and a capture completes the payment, in
# their own transactions (the local-bookkeeping patch).
AUTHORIZED = ("start_processing", "authorize")
# The first authorize is refused (authentication_required), the second one authorizes.
CHALLENGED = ("start_processing", "authorize", "require_authentication")
ANSWERED = (*CHALLENGED, WAKE, "settle_authentication")
REAUTHORIZED = (*ANSWERED, "begin_authorization", "authorize")
CAPTURED_THROUGH_UPDATE = (UPDATE_ACCEPTED, "settle_hold", "capture", UPDATE_COMPLETED)

SCENARIOS: dict[str, Scenario] = {
    "payment_manual_captured": Scenario(
        manual_captured,
        (*AUTHORIZED, *CAPTURED_THROUGH_UPDATE),
        PaymentOutcome("completed"),
        captures=(AMOUNT,),
    ),
    "payment_manual_partially_captured": Scenario(
        lambda recording: manual_captured(recording, PARTIAL_CAPTURE),
        (*AUTHORIZED, *CAPTURED_THROUGH_UPDATE),
        PaymentOutcome("completed"),
        captures=(PARTIAL_CAPTURE,),
    ),
    "payment_manual_cancelled": Scenario(
        manual_cancelled,
        (*AUTHORIZED, UPDATE_ACCEPTED, "settle_hold", "void", "release", UPDATE_COMPLETED),
        PaymentOutcome("cancelled"),
    ),
    "payment_manual_expired": Scenario(
        manual_expired,
        (*AUTHORIZED, TIMER_FIRED, "settle_hold", "void", "release"),
        PaymentOutcome("failed", "authorization_expired"),
    ),
    "payment_manual_capture_refused": Scenario(
        manual_capture_refused,
        (*AUTHORIZED, UPDATE_ACCEPTED, "settle_hold", "capture", "void", "fail", UPDATE_COMPLETED),
        PaymentOutcome("failed", "capture_failed"),
        captures=(AMOUNT,),
    ),
    "payment_manual_capture_woken": Scenario(
        manual_capture_woken,
        (*AUTHORIZED, WAKE, "settle_hold", "capture"),
        PaymentOutcome("completed"),
        captures=(AMOUNT,),
    ),
    "payment_authentication_approved": Scenario(
        lambda recording: authentication_answered(recording, AuthenticationOutcome.APPROVED),
        (*REAUTHORIZED, "capture"),
        PaymentOutcome("completed"),
        captures=(AMOUNT,),
    ),
    "payment_authentication_declined": Scenario(
        lambda recording: authentication_answered(recording, AuthenticationOutcome.DECLINED),
        ANSWERED,
        PaymentOutcome("failed"),
    ),
    "payment_authentication_timed_out": Scenario(
        authentication_timed_out,
        (*CHALLENGED, TIMER_FIRED, "settle_authentication"),
        PaymentOutcome("failed"),
    ),
    "payment_authentication_approved_manual_captured": Scenario(
        lambda recording: authentication_answered(
            recording, AuthenticationOutcome.APPROVED, capture_method="manual"
        ),
        (*REAUTHORIZED, *CAPTURED_THROUGH_UPDATE),
        PaymentOutcome("completed"),
        captures=(AMOUNT,),
    ),
}


def milestones(history: WorkflowHistory) -> list[str]:
    """What a history did, in the terms of Scenario.milestones."""
    found: list[str] = []
    updates: dict[str, str] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            found.append(event.activity_task_scheduled_event_attributes.activity_type.name)
        elif (local_activity := _local_activity(event)) is not None:
            found.append(local_activity)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            found.append(f"signal {event.workflow_execution_signaled_event_attributes.signal_name}")
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            updates[request.meta.update_id] = request.input.name
            found.append(f"update {request.input.name} accepted")
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            update_id = event.workflow_execution_update_completed_event_attributes.meta.update_id
            found.append(f"update {updates.get(update_id, update_id)} completed")
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            found.append(TIMER_FIRED)
    return found


# The marker a local activity leaves in its workflow task (the Core SDK's name and layout).
LOCAL_ACTIVITY_MARKER = "core_local_activity"


def _local_activity(event: HistoryEvent) -> str | None:
    """The activity type of a local activity's marker; None for any other event."""
    if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
        return None
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != LOCAL_ACTIVITY_MARKER:
        return None
    [data] = _converter.from_payloads(marker.details["data"].payloads, [dict])
    return str(data["activity_type"])


def activity_tasks(history: WorkflowHistory) -> list[str]:
    """The activities a history scheduled through the task queue (not local ones)."""
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


def workflow_tasks(history: WorkflowHistory) -> int:
    return sum(
        event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for event in history.events
    )


def captures(history: WorkflowHistory) -> list[int]:
    """The amount of each capture activity the history scheduled."""
    amounts: list[int] = []
    for event in history.events:
        scheduled = event.activity_task_scheduled_event_attributes
        if scheduled.activity_type.name == "capture":
            [capture] = _converter.from_payloads(scheduled.input.payloads, [CaptureInput])
            assert isinstance(capture, CaptureInput)
            amounts.append(capture.amount)
    return amounts


def outcome(history: WorkflowHistory) -> PaymentOutcome | None:
    """What the workflow returned; None when it did not complete."""
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
            [result] = _converter.from_payloads(payloads, [PaymentOutcome])
            assert isinstance(result, PaymentOutcome)
            return result
    return None


_converter = DataConverter.default.payload_converter
