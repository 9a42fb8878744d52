"""The payment and refund activities: each one a unit of work with its own transaction.

Activities run at least once, so each is safe to repeat: status changes are idempotent in
`payments.transitions`, and every gateway call carries an idempotency key built from the payment
(or refund) id and the step, so a retry returns the first call's outcome and never moves money
twice. Intent is committed before a gateway call (`begin_step`), its outcome after.

The gateway activities (authorize, capture, refund) wait out an unreachable database within
their attempt (`database_outage`): their few attempts are for the gateway's answers.
"""

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from payments_core.connectors import fallback, routing
from payments_core.connectors.gateways import Gateways
from payments_core.db.columns import utcnow
from payments_core.db.session import transaction
from payments_core.errors import InvalidState, NotFound
from payments_core.gateway.connector import (
    AuthorizeRequest,
    CaptureRequest,
    GatewayConnector,
    RefundRequest,
    VoidRequest,
)
from payments_core.gateway.errors import (
    AuthenticationRequired,
    GatewayDeclined,
    GatewayUnreachable,
)
from payments_core.payment_methods.models import PaymentMethod
from payments_core.payments import authentication, steps, transitions
from payments_core.payments.authentication import AUTHENTICATION_FAILED
from payments_core.payments.models import Payment
from payments_core.payments.status import (
    AuthenticationOutcome,
    HoldDecision,
    PaymentStatus,
    PaymentStep,
)
from payments_core.refunds import service as refunds
from payments_core.refunds.models import Refund
from payments_core.settings import (
    DEFAULT_AUTHENTICATION_TIMEOUT_SECONDS,
    DEFAULT_PUBLIC_BASE_URL,
)
from payments_worker.database_outage import through_database_outages
from payments_worker.errors import activity_errors
from payments_worker.payloads import (
    AUTHORIZATION_CAPTURED,
    GATEWAY_UNREACHABLE,
    AuthenticationChallenge,
    Authorization,
    AuthorizeInput,
    BeginAuthorizationInput,
    CancelInput,
    Capture,
    CaptureInput,
    CompleteInput,
    FailInput,
    FailRefundInput,
    FallBackInput,
    GatewayRefund,
    HoldSettlement,
    ProcessingStarted,
    RefundAtGatewayInput,
    ReleaseInput,
    RequireAuthenticationInput,
    SettleAuthenticationInput,
    SettleHoldInput,
    StartProcessingInput,
    SucceedRefundInput,
    VoidInput,
)

log = structlog.get_logger()

DEFAULT_GATEWAY_CALL_TIMEOUT = timedelta(seconds=5)
DEFAULT_AUTHENTICATION_TIMEOUT = timedelta(seconds=DEFAULT_AUTHENTICATION_TIMEOUT_SECONDS)


def authorize_key(payment_id: str) -> str:
    return f"{payment_id}-authorize"


def capture_key(payment_id: str) -> str:
    return f"{payment_id}-capture"


def void_key(payment_id: str) -> str:
    return f"{payment_id}-void"


def refund_key(refund_id: str) -> str:
    return f"{refund_id}-refund"


class PaymentActivities:
    """Built once per worker with its clients; every method is one `@activity.defn`."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        gateways: Gateways | GatewayConnector,
        *,
        gateway_call_timeout: timedelta = DEFAULT_GATEWAY_CALL_TIMEOUT,
        public_base_url: str = DEFAULT_PUBLIC_BASE_URL,
        authentication_timeout: timedelta = DEFAULT_AUTHENTICATION_TIMEOUT,
    ) -> None:
        self._sessions = session_factory
        # A bare connector (tests, tools): every payment goes to it, as to the sandbox.
        self._gateways = Gateways.of_any(gateways)
        self._gateway_call_timeout = gateway_call_timeout
        self._public_base_url = public_base_url
        self._authentication_timeout = authentication_timeout

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for `Worker(activities=…)`."""
        return [
            self.start_processing,
            self.cancel,
            self.begin_authorization,
            self.authorize,
            self.fall_back,
            self.require_authentication,
            self.settle_authentication,
            self.settle_hold,
            self.capture,
            self.void,
            self.release,
            self.complete,
            self.fail,
            self.refund_at_gateway,
            self.succeed_refund,
            self.fail_refund,
        ]

    @activity.defn
    async def start_processing(self, request: StartProcessingInput) -> ProcessingStarted:
        """pending → processing (payment.processing), and with `begin_authorization` step
        `authorizing` in the same transaction (as `begin_authorization` would: from then on the
        API refuses to cancel); a cancelled or finished payment is only reported, so the
        workflow can end."""
        with activity_errors():
            async with transaction(self._sessions) as session:
                payment = await transitions.start_processing(session, _id(request.payment_id))
                if request.begin_authorization and payment.status == PaymentStatus.PROCESSING:
                    transitions.enter_step(payment, PaymentStep.AUTHORIZING)
                method = await session.get(PaymentMethod, payment.payment_method_id)
                token = method.gateway_token if method is not None else None
        expires_at = payment.authorization_expires_at
        return ProcessingStarted(
            status=payment.status,
            amount=payment.amount,
            currency=payment.currency,
            token=token,
            gateway_call_timeout_ms=int(self._gateway_call_timeout.total_seconds() * 1000),
            capture_method=payment.capture_method,
            authorization_expires_at=expires_at.isoformat() if expires_at else None,
            connector_id=str(payment.connector_id) if payment.connector_id else None,
        )

    @activity.defn
    async def cancel(self, request: CancelInput) -> str:
        """Cancel before any charge (payment.cancelled); a no-op when the API already did.
        Returns the status the payment has now: one that can no longer be cancelled is left."""
        with activity_errors():
            try:
                async with transaction(self._sessions) as session:
                    payment = await transitions.cancel(session, _id(request.payment_id))
            except InvalidState:
                async with transaction(self._sessions) as session:
                    payment = await transitions.lock(session, _id(request.payment_id))
        return payment.status

    @activity.defn
    async def begin_authorization(self, request: BeginAuthorizationInput) -> bool:
        """Commit step `authorizing` before the gateway is called: from then on the API refuses
        to cancel. False when the payment is no longer processing (cancelled meanwhile)."""
        with activity_errors():
            try:
                async with transaction(self._sessions) as session:
                    await transitions.begin_step(
                        session, _id(request.payment_id), PaymentStep.AUTHORIZING
                    )
            except InvalidState:
                async with transaction(self._sessions) as session:
                    payment = await transitions.lock(session, _id(request.payment_id))
                if payment.status == PaymentStatus.PROCESSING:
                    raise  # processing but past this step: not ours to skip silently
                log.info(
                    "worker.authorization_skipped",
                    payment_id=request.payment_id,
                    status=payment.status,
                )
                return False
        return True

    @activity.defn
    async def authorize(self, request: AuthorizeInput) -> Authorization:
        return await through_database_outages(lambda: self._authorize(request), what="authorize")

    async def _authorize(self, request: AuthorizeInput) -> Authorization:
        with activity_errors():
            gateway, token, reference = self._gateways.sandbox, request.token, None
            if request.connector_id is not None:  # a sandbox payment needs no read
                async with self._sessions() as session:
                    payment = await _payment(session, request.payment_id)
                    gateway, token = await self._connector_of(session, payment)
                if request.authenticated:  # the operation the processor's challenge was for
                    reference = payment.gateway_reference
            try:
                result = await gateway.authorize(
                    self._authorize_request(
                        request.payment_id,
                        request.amount,
                        request.currency,
                        token,
                        authenticated=request.authenticated,
                        reference=reference,
                    )
                )
            except AuthenticationRequired as error:
                if error.reference is not None and error.redirect_url is None:
                    # The processor asks for its own SDK in the merchant's checkout (Stripe.js),
                    # which a platform serving pages by redirect cannot drive: the customer
                    # cannot authenticate, so the payment fails (nothing is held).
                    raise ApplicationError(
                        error.message, type=AUTHENTICATION_FAILED, non_retryable=True
                    ) from error
                # Final for this call; the processor's page and operation go to the workflow.
                raise ApplicationError(
                    error.message,
                    error.reference,
                    error.redirect_url,
                    type=error.code,
                    non_retryable=True,
                ) from error
            except GatewayUnreachable as error:
                if activity.info().attempt == 1 and not request.authenticated:
                    # Nothing under this key ever reached the connector (its transport retried
                    # the connection): final, so the workflow falls back without a void.
                    raise ApplicationError(
                        error.message, type=GATEWAY_UNREACHABLE, non_retryable=True
                    ) from error
                raise  # an earlier attempt may have reached it: retried, then voided
            await self._record_authorization(_id(request.payment_id), result.reference)
        return Authorization(result.reference)

    async def _record_authorization(self, payment_id: uuid.UUID, reference: str) -> None:
        """An automatic payment's hold changes only its step: one statement (payments.steps);
        a manual payment's also becomes `authorized`, with its event, under the lock."""
        recorded = await steps.step_at_once(
            self._sessions,
            payment_id,
            PaymentStep.AUTHORIZED,
            gateway_reference=reference,
            automatic_only=True,
        )
        if recorded is None:
            async with transaction(self._sessions) as session:
                await transitions.record_authorization(session, payment_id, reference)

    @activity.defn
    async def fall_back(self, request: FallBackInput) -> str | None:
        """Move the payment to its next connector (nothing is held at the one that failed);
        the connector's id, or None when none is left."""
        with activity_errors():
            async with transaction(self._sessions) as session:
                moved_to = await fallback.fall_back(
                    session,
                    _id(request.payment_id),
                    _id(request.from_connector_id),
                    request.reason,
                )
        return str(moved_to) if moved_to is not None else None

    @activity.defn
    async def require_authentication(
        self, request: RequireAuthenticationInput
    ) -> AuthenticationChallenge:
        """processing → requires_action with a challenge (payment.requires_action); the time
        the customer has left, counted from the challenge's recorded expiry."""
        with activity_errors():
            async with transaction(self._sessions) as session:
                payment = await authentication.require(
                    session,
                    _id(request.payment_id),
                    public_base_url=self._public_base_url,
                    answer_within=self._authentication_timeout,
                    processor_url=request.processor_url,
                    processor_reference=request.processor_reference,
                )
        expires_at = payment.authentication_expires_at
        remaining = (expires_at - utcnow()) if expires_at else timedelta()
        return AuthenticationChallenge(max(int(remaining.total_seconds() * 1000), 0))

    @activity.defn
    async def settle_authentication(self, request: SettleAuthenticationInput) -> str:
        """The payment's status after the wait: processing (approved), failed, cancelled, or
        still requires_action (woken with nothing answered)."""
        with activity_errors():
            async with self._sessions() as session:
                payment = await _payment(session, request.payment_id)
            if authentication.hosted_by_processor(payment) and authentication.is_open(payment):
                await self._ask_processor(payment)
            async with transaction(self._sessions) as session:
                payment = await authentication.settle(
                    session, _id(request.payment_id), timed_out=request.timed_out
                )
        return payment.status

    async def _ask_processor(self, payment: Payment) -> None:
        """The processor hosted the challenge: its answer is whether the authorization, asked
        again under the same key (which moves nothing new), now holds the money."""
        async with self._sessions() as session:
            gateway, token = await self._connector_of(session, payment)
        request = self._authorize_request(
            str(payment.id),
            payment.amount,
            payment.currency,
            token,
            authenticated=True,
            reference=payment.gateway_reference,
        )
        try:
            await gateway.authorize(request)
            outcome = AuthenticationOutcome.APPROVED
        except AuthenticationRequired:
            return  # not answered yet
        except GatewayDeclined:
            outcome = AuthenticationOutcome.DECLINED
        async with transaction(self._sessions) as session:
            locked = await transitions.lock(session, payment.id)
            authentication.record_answer(session, locked, outcome)

    async def _connector_of(
        self, session: AsyncSession, payment: Payment
    ) -> tuple[GatewayConnector, str | None]:
        """The payment's connector, and its card as that connector's vault has it."""
        assert payment.connector_id is not None
        gateway = await self._gateways.by_id(session, payment.connector_id)
        token = await routing.token(session, payment.connector_id, payment.payment_method_id)
        return gateway, token

    def _authorize_request(
        self,
        payment_id: str,
        amount: int,
        currency: str,
        token: str | None,
        *,
        authenticated: bool,
        reference: str | None = None,
    ) -> AuthorizeRequest:
        """An authorization under the payment's key."""
        return AuthorizeRequest(
            idempotency_key=authorize_key(payment_id),
            payment_id=payment_id,
            amount=amount,
            currency=currency,
            token=token,
            authenticated=authenticated,
            return_url=self._return_url(payment_id),
            reference=reference,
        )

    def _return_url(self, payment_id: str) -> str:
        """Where a processor's own challenge page sends the customer back (the API wakes the
        workflow, then forwards the browser to the merchant's returnUrl)."""
        return f"{self._public_base_url}{authentication.RETURN_PATH.format(payment_id=payment_id)}"

    @activity.defn
    async def settle_hold(self, request: SettleHoldInput) -> HoldSettlement:
        """What was decided for an authorized payment's hold; when the expiry timer fired with
        nothing decided, the platform decides to release it (expire) under the same lock the
        API's capture and cancel take, so exactly one decision wins."""
        with activity_errors():
            async with transaction(self._sessions) as session:
                payment = await transitions.lock(session, _id(request.payment_id))
                if payment.hold_decision is None and request.expired:
                    transitions.decide_hold(payment, HoldDecision.EXPIRE)
        return HoldSettlement(payment.hold_decision, payment.amount_to_capture)

    @activity.defn
    async def release(self, request: ReleaseInput) -> str:
        """After the hold's void: cancelled or failed (authorization_expired), as decided."""
        with activity_errors():
            async with transaction(self._sessions) as session:
                payment = await transitions.release(session, _id(request.payment_id))
        return payment.status

    @activity.defn
    async def capture(self, request: CaptureInput) -> Capture:
        return await through_database_outages(lambda: self._capture(request), what="capture")

    async def _capture(self, request: CaptureInput) -> Capture:
        payment_id = _id(request.payment_id)
        with activity_errors():
            # From AUTHORIZED, or from VOIDING: a void was refused because the capture went
            # through after all (the gateway itself refuses a capture after a void). One
            # statement when the step may follow (payments.steps), else under the lock.
            stepped = await steps.step_at_once(self._sessions, payment_id, PaymentStep.CAPTURING)
            async with transaction(self._sessions) as session:
                if stepped is not None:
                    gateway = await self._gateways.by_id(session, stepped.connector_id)
                else:
                    payment = await transitions.lock(session, payment_id)
                    recorded = payment.processing_step == PaymentStep.CAPTURED
                    if recorded and payment.capture_reference:
                        # Repeated after its capture was recorded (the worker died before
                        # reporting it): answer from the record, whatever the gateway does now.
                        if request.complete:
                            transitions.complete_locked(session, payment)
                        return Capture(payment.capture_reference)
                    transitions.enter_step(payment, PaymentStep.CAPTURING)  # or InvalidState
                    gateway = await self._gateways.by_id(session, payment.connector_id)
            result = await gateway.capture(
                CaptureRequest(
                    idempotency_key=capture_key(request.payment_id),
                    authorization_reference=request.authorization_reference,
                    amount=request.amount,
                    currency=request.currency,
                )
            )
            async with transaction(self._sessions) as session:
                captured = await transitions.record_capture(
                    session, payment_id, result.reference, request.amount
                )
                if request.complete:  # nothing is left to undo once the money moved
                    transitions.complete_locked(session, captured)
        return Capture(result.reference)

    @activity.defn
    async def void(self, request: VoidInput) -> None:
        """Release whatever the gateway holds under the authorization's key: also when the
        authorization's outcome never reached us, and a no-op when nothing was held."""
        payment_id = _id(request.payment_id)
        with activity_errors():
            async with transaction(self._sessions) as session:
                payment = await transitions.lock(session, payment_id)
                if payment.processing_step == PaymentStep.VOIDED:
                    return  # repeated after the void was recorded
                if payment.processing_step == PaymentStep.CAPTURED:
                    # The capture was recorded, its completion lost: nothing may be undone, the
                    # payment completes (the workflow treats this as the gateway's refusal).
                    raise ApplicationError(
                        f"payment {payment_id} was captured",
                        type=AUTHORIZATION_CAPTURED,
                        non_retryable=True,
                    )
                transitions.enter_step(payment, PaymentStep.VOIDING)
                gateway = await self._gateways.by_id(session, payment.connector_id)
            result = await gateway.void(
                VoidRequest(
                    idempotency_key=void_key(request.payment_id),
                    authorization_idempotency_key=authorize_key(request.payment_id),
                    authorization_reference=payment.gateway_reference,
                )
            )
            async with transaction(self._sessions) as session:
                await transitions.record_void(session, payment_id)
        log.info("worker.payment_voided", payment_id=request.payment_id, reference=result.reference)

    @activity.defn
    async def complete(self, request: CompleteInput) -> None:
        with activity_errors():
            async with transaction(self._sessions) as session:
                await transitions.complete(session, _id(request.payment_id))

    @activity.defn
    async def fail(self, request: FailInput) -> None:
        with activity_errors():
            async with transaction(self._sessions) as session:
                await transitions.fail(session, _id(request.payment_id), request.failure_reason)

    @activity.defn
    async def refund_at_gateway(self, request: RefundAtGatewayInput) -> GatewayRefund:
        return await through_database_outages(
            lambda: self._refund_at_gateway(request), what="refund_at_gateway"
        )

    async def _refund_at_gateway(self, request: RefundAtGatewayInput) -> GatewayRefund:
        with activity_errors():
            async with transaction(self._sessions) as session:
                refund = await session.get(Refund, _id(request.refund_id))
                if refund is None:
                    raise NotFound(f"no refund with id {request.refund_id}", param="id")
                payment = await session.get(Payment, refund.payment_id)
                capture_reference = payment.capture_reference if payment is not None else None
                gateway = await self._gateways.by_id(
                    session, payment.connector_id if payment is not None else None
                )
            if capture_reference is None:
                raise InvalidState(
                    f"payment {refund.payment_id} of refund {refund.id} was never captured",
                    code="payment_not_captured",
                )
            result = await gateway.refund(
                RefundRequest(
                    idempotency_key=refund_key(request.refund_id),
                    capture_reference=capture_reference,
                    amount=refund.amount,
                    currency=refund.currency,
                )
            )
        return GatewayRefund(result.reference)

    @activity.defn
    async def succeed_refund(self, request: SucceedRefundInput) -> None:
        with activity_errors():
            async with transaction(self._sessions) as session:
                await refunds.succeed(session, _id(request.refund_id), request.gateway_reference)

    @activity.defn
    async def fail_refund(self, request: FailRefundInput) -> None:
        with activity_errors():
            async with transaction(self._sessions) as session:
                await refunds.fail(session, _id(request.refund_id), request.failure_reason)


async def _payment(session: AsyncSession, payment_id: str) -> Payment:
    payment = await session.get(Payment, _id(payment_id))
    if payment is None:
        raise NotFound(f"no payment with id {payment_id}", param="id")
    return payment


def _id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        # A malformed id never becomes valid: retrying would only loop.
        raise ApplicationError(
            f"{value!r} is not a UUID", type="invalid_id", non_retryable=True
        ) from None
