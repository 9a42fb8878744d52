"""PaymentProcessingWorkflow and RefundWorkflow: deterministic orchestration, no I/O.

A payment goes start_processing → begin_authorization → authorize → capture → complete (from
the local-bookkeeping patch on: start_processing, which begins the authorization in the same
transaction, → authorize → capture, which completes in the transaction recording it). The
saga's one undo is the void of the hold: a capture that fails for good, or an authorization
whose retries run out (its outcome unknown), or any later unexpected failure before the capture
voids by the authorization's idempotency key, then fails the payment. Once the capture succeeded
there is nothing left to undo: completing is bookkeeping, retried until it happens.

Which gateway step may follow which is `payments.status.STEP_TRANSITIONS`, enforced in the
database under the payment's lock:

    (none) → authorizing → authorized → capturing → captured → (completed)
                  ↘              ↘            ↘
                   voiding → voided → (failed)
                      ↘ capturing   (the void was refused: the capture had gone through)

A recorded capture is final: a repeated capture answers from the record, a void of a captured
payment is refused as `authorization_captured` like the gateway's own refusal, and the workflow
then records the capture, retrying until it can (RECORD_CAPTURE_RETRY), and completes. So every
path after a capture ends `completed`, whatever the gateway does meanwhile.

Fallback (a merchant's connectors, payments_core/connectors/routing.py): when the payment's
connector was never reached (GatewayUnreachable on the first attempt), or its authorization's
retries ran out and the void under its key succeeded there, nothing is held at it, so the
`fall_back` activity moves the payment to the next connector by priority and authorization starts
again there. A decline never falls back; a sandbox payment (no connector) never does either, and
issues no extra command.

Cancel: the API cancels in PostgreSQL first and signals afterwards (best effort), so the database
stays the single judge. Until authorization begins, the workflow honours the signal by running
the idempotent `cancel` activity itself: a no-op after the API's cancel, and enough on its own
when an operator signals by hand (since local-bookkeeping, authorization begins with the start
of processing, so only a signal that came before it is honoured). From `begin_authorization`
on the signal is ignored (the charge is in flight and the API already answers 409), and a
cancel that won the race against `begin_authorization` in the database ends the workflow
quietly.

Versioning: change the order or kind of activity calls only behind `workflow.patched(...)` (the
patch ids are listed below): the recorded histories in tests/worker/histories/, one per branch,
are replayed in `make test` and fail on a non-deterministic change.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from payments_core.payments.status import CaptureMethod, HoldDecision, PaymentStatus
    from payments_core.payments.transitions import AUTHORIZATION_EXPIRED
    from payments_core.refunds.status import RefundStatus
    from payments_core.temporal import names
    from payments_core.temporal.inputs import PaymentWorkflowInput, RefundWorkflowInput
    from payments_worker import policies
    from payments_worker.activities import PaymentActivities
    from payments_worker.payloads import (
        AUTHENTICATION_REQUIRED,
        AUTHORIZATION_CAPTURED,
        CAPTURE_FAILED,
        GATEWAY_TIMEOUT,
        GATEWAY_UNAVAILABLE,
        GATEWAY_UNREACHABLE,
        PROCESSING_ERROR,
        REFUND_FAILED,
        Authorization,
        AuthorizeInput,
        BeginAuthorizationInput,
        CancelInput,
        CaptureInput,
        CompleteInput,
        FailInput,
        FailRefundInput,
        FallBackInput,
        HoldSettlement,
        PaymentOutcome,
        ProcessingStarted,
        RefundAtGatewayInput,
        RefundOutcome,
        ReleaseInput,
        RequireAuthenticationInput,
        SettleAuthenticationInput,
        SettleHoldInput,
        StartProcessingInput,
        SucceedRefundInput,
        VoidInput,
    )

ArgumentT = TypeVar("ArgumentT")
ResultT = TypeVar("ResultT")

# What CURRENT_STEP_QUERY answers while the workflow runs, then the final status.
STARTING = "starting"
CANCELLING = "cancelling"
AUTHORIZING = "authorizing"
AWAITING_AUTHENTICATION = "awaiting_authentication"
AWAITING_CAPTURE = "awaiting_capture"
CAPTURING = "capturing"
COMPLETING = "completing"
VOIDING = "voiding"
RELEASING = "releasing"
FAILING = "failing"


@workflow.defn(name=names.PAYMENT_WORKFLOW)
class PaymentProcessingWorkflow:
    def __init__(self) -> None:
        self._step = STARTING
        self._cancel_requested = False
        self._woken = False
        self._finished = False
        self._gateway_timeout = timedelta(seconds=5)
        # The merchant's connector the payment is routed to; None: the sandbox (no fallback).
        self._connector_id: str | None = None

    @workflow.signal(name=names.CANCEL_SIGNAL)
    def request_cancel(self) -> None:
        if self._step in (STARTING, CANCELLING):
            self._cancel_requested = True
        elif self._step in (AWAITING_AUTHENTICATION, AWAITING_CAPTURE):
            self._woken = True  # the cancel is in PostgreSQL: the wait reads it
        else:
            workflow.logger.info("cancel signal ignored at step %s", self._step)

    @workflow.signal(name=names.WAKE_SIGNAL)
    def wake(self) -> None:
        self._woken = True

    @workflow.update(name=names.HOLD_DECIDED_UPDATE)
    async def hold_decided(self) -> str:
        """The API decided a capture or a cancel in PostgreSQL: carry it out and answer with the
        payment's status once the workflow is done (completed, cancelled, failed)."""
        self._woken = True
        await workflow.wait_condition(lambda: self._finished)
        return self._step

    @workflow.query(name=names.CURRENT_STEP_QUERY)
    def current_step(self) -> str:
        return self._step

    @workflow.run
    async def run(self, request: PaymentWorkflowInput) -> PaymentOutcome:
        outcome = await self._process(request.payment_id)
        # An update still waiting for its answer gets it before the workflow closes.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return outcome

    async def _process(self, payment_id: str) -> PaymentOutcome:
        if self._cancel_requested:
            return await self._cancel(payment_id)
        # From local-bookkeeping on, steps that always run together share one transaction:
        # starting with beginning the authorization, recording the capture with completing.
        merged = workflow.patched(LOCAL_BOOKKEEPING)
        started = await _bookkeeping(
            PaymentActivities.start_processing, StartProcessingInput(payment_id, merged)
        )
        if started.status != PaymentStatus.PROCESSING:  # cancelled or already finished
            return self._ended(started.status)
        if self._cancel_requested:
            if not merged:
                return await self._cancel(payment_id)
            workflow.logger.info("cancel signal ignored: authorization began with processing")
        self._gateway_timeout = timedelta(milliseconds=started.gateway_call_timeout_ms)
        self._connector_id = started.connector_id

        authorized = await self._authorize(payment_id, started, began=merged)
        if isinstance(authorized, PaymentOutcome):
            return authorized
        amount = started.amount
        if started.capture_method == CaptureMethod.MANUAL:
            hold = await self._await_hold_decision(payment_id, started)
            if hold.decision != HoldDecision.CAPTURE or hold.amount_to_capture is None:
                return await self._release(payment_id)
            amount = hold.amount_to_capture

        self._step = CAPTURING
        capture = CaptureInput(payment_id, authorized.reference, amount, started.currency, merged)
        try:
            await self._capture(capture)
        except ActivityError as error:
            refused = _final_refusal(error)
            reason = CAPTURE_FAILED if refused == CAPTURE_FAILED else _reason(error)
            if await self._void(payment_id):
                return await self._fail(payment_id, reason)
            # The gateway refused the void because the capture went through after all (its
            # answer was lost): the money moved, so record that capture and complete.
            self._step = CAPTURING
            await self._capture(capture, policies.RECORD_CAPTURE_RETRY)

        if not merged:  # else the capture's own transaction completed the payment
            self._step = COMPLETING
            await _bookkeeping(PaymentActivities.complete, CompleteInput(payment_id))
        return self._ended(PaymentStatus.COMPLETED)

    async def _authorize(
        self, payment_id: str, started: ProcessingStarted, *, began: bool
    ) -> Authorization | PaymentOutcome:
        """The hold, or how the payment ended without one. When the gateway first asks for the
        customer's authentication, wait for it, then ask the gateway again. `began`: the first
        authorization's step was begun with the start of processing."""
        authenticated = False
        while True:
            self._step = AUTHORIZING
            if not began and not await _bookkeeping(
                PaymentActivities.begin_authorization, BeginAuthorizationInput(payment_id)
            ):
                return self._ended(PaymentStatus.CANCELLED)
            began = False
            try:
                return await workflow.execute_activity_method(
                    PaymentActivities.authorize,
                    AuthorizeInput(
                        payment_id,
                        started.amount,
                        started.currency,
                        started.token,
                        authenticated,
                        self._connector_id,
                    ),
                    start_to_close_timeout=self._gateway_timeout,
                    retry_policy=policies.AUTHORIZE_RETRY,
                )
            except ActivityError as error:
                declined = _final_refusal(error)
                if declined == AUTHENTICATION_REQUIRED and not authenticated:
                    status = await self._authenticate(payment_id, _challenge(payment_id, error))
                    if status != PaymentStatus.PROCESSING:  # declined, timed out, cancelled
                        return self._ended(status)
                    authenticated = True
                    continue
                if declined == GATEWAY_UNREACHABLE:  # never reached: nothing is held there
                    if await self._fall_back(payment_id, declined):
                        authenticated = False
                        continue
                    return await self._fail(payment_id, GATEWAY_UNAVAILABLE)
                if declined is not None:  # the issuer said no: nothing is held
                    return await self._fail(payment_id, declined)
                reason = _reason(error)
                if await self._voided_for_fallback(payment_id) and await self._fall_back(
                    payment_id, reason
                ):
                    authenticated = False
                    continue
                return await self._void_and_fail(payment_id, reason)

    async def _voided_for_fallback(self, payment_id: str) -> bool:
        """Before falling back from a connector whose authorization may have reached it: void
        under the authorization's key there, a few times; False when it could not be done (the
        payment then takes the usual way: void until it happens, then fail). A sandbox payment
        has nowhere to fall back to, and issues no extra command (its histories stay valid)."""
        if self._connector_id is None:
            return False
        try:
            return await self._void(payment_id, policies.FALLBACK_VOID_RETRY)
        except ActivityError:
            return False

    async def _fall_back(self, payment_id: str, reason: str) -> bool:
        """Move on to the merchant's next connector; False when there is none (or this is the
        sandbox). The activity's input and result in this workflow's history say which
        connector was passed over, why, and where the payment went."""
        if self._connector_id is None:
            return False
        passed_over = self._connector_id
        self._step = AUTHORIZING
        moved_to = await _bookkeeping(
            PaymentActivities.fall_back,
            FallBackInput(payment_id, passed_over, reason),
            local=False,  # a local activity's marker keeps its result, not its input
        )
        if moved_to is None:
            return False
        workflow.logger.warning(
            "connector %s passed over (%s): falling back to %s", passed_over, reason, moved_to
        )
        self._connector_id = moved_to
        return True

    async def _authenticate(
        self, payment_id: str, challenge_input: RequireAuthenticationInput
    ) -> str:
        """requires_action until the customer answers or AUTHENTICATION_TIMEOUT_SECONDS pass;
        the answer is in PostgreSQL (the challenge page wrote it), or the processor's (asked by
        settle_authentication, when its page hosted the challenge); a signal only wakes us."""
        challenge = await _bookkeeping(PaymentActivities.require_authentication, challenge_input)
        self._step = AWAITING_AUTHENTICATION
        deadline = workflow.now() + timedelta(milliseconds=challenge.remaining_ms)
        while True:
            timed_out = not await self._woken_before(deadline)
            status = await _bookkeeping(
                PaymentActivities.settle_authentication,
                SettleAuthenticationInput(payment_id, timed_out),
                local=False,  # it may ask the processor: gateway calls are never local
            )
            if status != PaymentStatus.REQUIRES_ACTION:
                return status

    async def _await_hold_decision(
        self, payment_id: str, started: ProcessingStarted
    ) -> HoldSettlement:
        """authorized until the merchant captures or cancels, or the hold expires: whichever
        PostgreSQL saw first (the API's capture and cancel, the expiry here, all under the
        payment's lock)."""
        self._step = AWAITING_CAPTURE
        expires_at = started.authorization_expires_at
        deadline = datetime.fromisoformat(expires_at) if expires_at else workflow.now()
        while True:
            expired = not await self._woken_before(deadline)
            hold = await _bookkeeping(
                PaymentActivities.settle_hold, SettleHoldInput(payment_id, expired)
            )
            if hold.decision is not None:
                return hold

    async def _woken_before(self, deadline: datetime) -> bool:
        """Wait for a signal or update; False when `deadline` (a durable timer) came first."""
        remaining = deadline - workflow.now()
        if remaining <= timedelta():
            return False
        try:
            await workflow.wait_condition(lambda: self._woken, timeout=remaining)
        except TimeoutError:
            return False
        finally:
            self._woken = False
        return True

    async def _release(self, payment_id: str) -> PaymentOutcome:
        """Void a manual payment's hold, then cancel or fail it (authorization_expired)."""
        if not await self._void(payment_id):
            raise ApplicationError(
                f"payment {payment_id}: a hold never captured was refused a void"
            )
        self._step = RELEASING
        status = await _bookkeeping(PaymentActivities.release, ReleaseInput(payment_id))
        self._ended(status)
        reason = AUTHORIZATION_EXPIRED if status == PaymentStatus.FAILED else None
        return PaymentOutcome(status, reason)

    async def _capture(
        self, capture: CaptureInput, retry: RetryPolicy = policies.CAPTURE_RETRY
    ) -> None:
        await workflow.execute_activity_method(
            PaymentActivities.capture,
            capture,
            start_to_close_timeout=self._gateway_timeout,
            retry_policy=retry,
        )

    async def _cancel(self, payment_id: str) -> PaymentOutcome:
        self._step = CANCELLING
        status = await _bookkeeping(PaymentActivities.cancel, CancelInput(payment_id))
        return self._ended(status)

    async def _void_and_fail(self, payment_id: str, reason: str) -> PaymentOutcome:
        await self._void(payment_id)  # before any capture, a void is never refused as captured
        return await self._fail(payment_id, reason)

    async def _void(self, payment_id: str, retry: RetryPolicy = policies.VOID_RETRY) -> bool:
        """Release the hold; False when the gateway refuses because it was captured."""
        self._step = VOIDING
        try:
            await workflow.execute_activity_method(
                PaymentActivities.void,
                VoidInput(payment_id),
                start_to_close_timeout=self._gateway_timeout,
                retry_policy=retry,
            )
        except ActivityError as error:
            if _final_refusal(error) == AUTHORIZATION_CAPTURED:
                return False
            raise
        return True

    async def _fail(self, payment_id: str, reason: str) -> PaymentOutcome:
        self._step = FAILING
        await _bookkeeping(PaymentActivities.fail, FailInput(payment_id, reason))
        self._step = PaymentStatus.FAILED.value
        self._finished = True
        return PaymentOutcome(PaymentStatus.FAILED.value, reason)

    def _ended(self, status: str) -> PaymentOutcome:
        self._step = status
        self._finished = True
        return PaymentOutcome(status)


# Patch ids (`workflow.patched`): each names one change of the commands a workflow issues. A
# running workflow started before the change replays its old branch; new ones take the new one.
# Remove a patch's old branch only once no workflow that started before it can still be running
# (deprecate_patch first); tests/worker/histories/v<n>_* keep the old branches under test meanwhile.
REFUND_OUTCOME_UNKNOWN_STAYS_PENDING = "refund-outcome-unknown-stays-pending"
# Database-only steps run as local activities (v2_* histories are the remote ones).
LOCAL_BOOKKEEPING = "local-bookkeeping"


async def _bookkeeping(
    activity: Callable[[PaymentActivities, ArgumentT], Awaitable[ResultT]],
    argument: ArgumentT,
    *,
    local: bool = True,
) -> ResultT:
    """A database-only step: short timeout, retried until the database answers.

    A local activity: it runs in the worker that runs the workflow task, its result recorded as
    a marker when the task completes, so it costs the Temporal server no task of its own (no
    schedule, dispatch, start and completion, no extra workflow task). What it gives up, and why
    that is safe here (README, "Performance"): no heartbeats (none of these steps has any), and
    its attempts do not outlive the worker: if the worker dies, the workflow task times out and
    the step runs again from its first attempt on another worker. Every such step is an
    idempotent transition under the payment's lock, well within the workflow task's timeout.
    """
    local = local and workflow.patched(LOCAL_BOOKKEEPING)
    execute = workflow.execute_local_activity_method if local else workflow.execute_activity_method
    return await execute(
        activity,
        argument,
        start_to_close_timeout=policies.BOOKKEEPING_TIMEOUT,
        retry_policy=policies.BOOKKEEPING_RETRY,
    )


@workflow.defn(name=names.REFUND_WORKFLOW)
class RefundWorkflow:
    """Refund at the gateway, then record the outcome. A refusal fails the refund only; a call
    whose answer never came (timeouts, an unreachable gateway) leaves it `pending`: the gateway
    may have refunded, so the amount stays taken until the reconciler learns the answer."""

    @workflow.run
    async def run(self, request: RefundWorkflowInput) -> RefundOutcome:
        try:
            refund = await workflow.execute_activity_method(
                PaymentActivities.refund_at_gateway,
                RefundAtGatewayInput(request.refund_id),
                start_to_close_timeout=policies.REFUND_CALL_TIMEOUT,
                retry_policy=policies.REFUND_RETRY,
            )
        except ActivityError as error:
            refused = _final_refusal(error)
            if refused is None and workflow.patched(REFUND_OUTCOME_UNKNOWN_STAYS_PENDING):
                reason = _reason(error, fallback=REFUND_FAILED)
                workflow.logger.warning(
                    "refund %s outcome unknown (%s): left pending for the reconciler",
                    request.refund_id,
                    reason,
                )
                return RefundOutcome(RefundStatus.PENDING.value, reason)
            reason = refused or _reason(error, fallback=REFUND_FAILED)
            await _bookkeeping(
                PaymentActivities.fail_refund, FailRefundInput(request.refund_id, reason)
            )
            return RefundOutcome(RefundStatus.FAILED.value, reason)
        await _bookkeeping(
            PaymentActivities.succeed_refund,
            SucceedRefundInput(request.refund_id, refund.reference),
        )
        return RefundOutcome(RefundStatus.SUCCEEDED.value)


def _challenge(payment_id: str, error: ActivityError) -> RequireAuthenticationInput:
    """What the authorize activity said of the challenge: a processor's operation and page
    (its ApplicationError's details), or nothing (the sandbox: the platform's own page)."""
    cause = error.cause
    details = list(cause.details) if isinstance(cause, ApplicationError) else []
    reference, url = [*details, None, None][:2]
    return RequireAuthenticationInput(
        payment_id,
        str(reference) if reference else None,
        str(url) if url else None,
    )


def _final_refusal(error: ActivityError) -> str | None:
    """The code of a non-retryable business failure (a decline, capture_failed), else None."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.non_retryable and cause.type:
        return cause.type
    return None


def _reason(error: ActivityError, fallback: str = PROCESSING_ERROR) -> str:
    """The failureReason once retries ran out: the gateway's last transient error, a timeout,
    or the fallback for anything unexpected."""
    cause = error.cause
    if isinstance(cause, TemporalTimeoutError):
        return GATEWAY_TIMEOUT
    if isinstance(cause, ApplicationError) and cause.type in (GATEWAY_TIMEOUT, GATEWAY_UNAVAILABLE):
        return cause.type
    if isinstance(cause, ApplicationError) and cause.type == GATEWAY_UNREACHABLE:
        return GATEWAY_UNAVAILABLE
    return fallback
