"""Bring one payment or refund to what the gateway did, asking under its idempotency keys.

The gateway's books are the truth for money; ours follow them through the usual transitions, so
every repair emits the usual events. A payment: a capture under `<id>-capture` (or one we had
recorded) completes it; otherwise the hold is voided by the authorization's key (which also
tombstones a key that never reached the gateway, so no late authorization can win) and the
payment fails, with the gateway's decline code when there was one. A void refused because the
capture went through after all completes it instead. A refund: the gateway's record under
`<id>-refund` settles it; without one the refund never reached the gateway and is made now (the
same idempotent call); a call that still gets no answer leaves it pending for the next round.

Only for rows whose workflow is not running (the janitor checks): nothing else moves them.
"""

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.connectors.gateways import Gateways
from payments_core.db.session import transaction
from payments_core.gateway.connector import (
    GatewayConnector,
    GatewayRecord,
    RefundRequest,
    VoidRequest,
)
from payments_core.gateway.errors import GatewayError, VoidRefused
from payments_core.payments import transitions
from payments_core.payments.models import Payment
from payments_core.payments.status import UNFINISHED, PaymentStep
from payments_core.refunds import service as refunds
from payments_core.refunds.models import Refund
from payments_core.refunds.status import RefundStatus
from payments_worker.activities import authorize_key, capture_key, refund_key, void_key
from payments_worker.payloads import PROCESSING_ERROR, REFUND_FAILED

T = TypeVar("T")


class Settled(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    SUCCEEDED = "succeeded"  # refunds
    # Nothing to do (already final), or no answer from the gateway yet: try again next round.
    UNCHANGED = "unchanged"
    UNKNOWN = "unknown"


class Settler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        gateways: Gateways | GatewayConnector,
        *,
        call_timeout: timedelta,
    ) -> None:
        self._sessions = sessions
        self._gateways = Gateways.of_any(gateways)
        self._call_timeout = call_timeout.total_seconds()

    async def payment(self, payment_id: uuid.UUID) -> tuple[Settled, str | None]:
        """(what became of it, the failure reason or capture reference)."""
        async with self._sessions() as session:
            payment = await session.get(Payment, payment_id)
            if payment is None or payment.status not in UNFINISHED:
                return Settled.UNCHANGED, None
            gateway = await self._gateways.by_id(session, payment.connector_id)
        key = str(payment_id)
        capture: GatewayRecord | None = None
        capture_reference = payment.capture_reference
        if payment.processing_step != PaymentStep.CAPTURED or capture_reference is None:
            capture = await self._call(gateway.lookup(capture_key(key)))
            capture_reference = _approved(capture)
        if capture_reference is None:
            void = VoidRequest(void_key(key), authorize_key(key), payment.gateway_reference)
            try:
                await self._call(gateway.void(void))
            except VoidRefused:  # captured meanwhile: the money moved
                capture_reference = _approved(await self._call(gateway.lookup(capture_key(key))))
        authorization = await self._call(gateway.lookup(authorize_key(key)))
        if capture_reference is not None:
            # What the gateway took: its record's amount, else what was decided (all of it for
            # an automatic payment).
            taken = (
                (capture.amount if capture else None) or payment.amount_to_capture or payment.amount
            )
            async with transaction(self._sessions) as session:
                await _complete(session, payment_id, authorization, capture_reference, taken)
            return Settled.COMPLETED, capture_reference
        reason = _refusal(authorization) or _refusal(capture) or PROCESSING_ERROR
        async with transaction(self._sessions) as session:
            await _fail(session, payment_id, reason)
        return Settled.FAILED, reason

    async def refund(self, refund_id: uuid.UUID) -> tuple[Settled, str | None]:
        async with self._sessions() as session:
            refund = await session.get(Refund, refund_id)
            payment = await session.get(Payment, refund.payment_id) if refund else None
            if refund is None or payment is None or refund.status != RefundStatus.PENDING:
                return Settled.UNCHANGED, None
            gateway = await self._gateways.by_id(session, payment.connector_id)
        key = refund_key(str(refund_id))
        record = await self._call(gateway.lookup(key))
        if record is None and payment.capture_reference is not None:
            # Never reached the gateway: make the refund the merchant asked for, once (by key).
            request = RefundRequest(key, payment.capture_reference, refund.amount, refund.currency)
            try:
                result = await self._call(gateway.refund(request))
            except GatewayError as error:
                if error.retryable:
                    return Settled.UNKNOWN, error.code
                record = GatewayRecord("refund", "failed", None, refund.amount, error.code)
            except TimeoutError:
                return Settled.UNKNOWN, "gateway_timeout"
            else:
                record = GatewayRecord("refund", "approved", result.reference, refund.amount, None)
        async with transaction(self._sessions) as session:
            if record is not None and record.approved and record.reference is not None:
                await refunds.succeed(session, refund_id, record.reference)
                return Settled.SUCCEEDED, record.reference
            reason = (record.decline_code if record else None) or REFUND_FAILED
            await refunds.fail(session, refund_id, reason)
            return Settled.FAILED, reason

    async def _call(self, call: Awaitable[T]) -> T:
        """A gateway call bounded like an activity's: a silent gateway is a retryable outcome."""
        async with asyncio.timeout(self._call_timeout):
            return await call


def _approved(record: GatewayRecord | None) -> str | None:
    return record.reference if record is not None and record.approved else None


def _refusal(record: GatewayRecord | None) -> str | None:
    """The gateway's code for an operation it refused (a decline, a failed capture)."""
    return record.decline_code if record is not None and not record.approved else None


async def _complete(
    session: AsyncSession,
    payment_id: uuid.UUID,
    authorization: GatewayRecord | None,
    capture_reference: str,
    amount: int,
) -> None:
    """Walk the steps the workflow would have recorded (STEP_TRANSITIONS) up to the capture."""
    payment = await transitions.start_processing(session, payment_id)  # a no-op unless pending
    if payment.processing_step is None:
        await transitions.begin_step(session, payment_id, PaymentStep.AUTHORIZING)
    if payment.processing_step == PaymentStep.AUTHORIZING:
        reference = authorization.reference if authorization else None
        await transitions.record_authorization(session, payment_id, reference or capture_reference)
    if payment.processing_step in (PaymentStep.AUTHORIZED, PaymentStep.VOIDING):
        await transitions.begin_step(session, payment_id, PaymentStep.CAPTURING)
    await transitions.record_capture(session, payment_id, capture_reference, amount)
    await transitions.complete(session, payment_id)


async def _fail(session: AsyncSession, payment_id: uuid.UUID, reason: str) -> None:
    """Record the void the step had reached (nothing is held any more), then fail."""
    payment = await transitions.lock(session, payment_id)
    if payment.processing_step in (
        PaymentStep.AUTHORIZING,
        PaymentStep.AUTHORIZED,
        PaymentStep.CAPTURING,
    ):
        await transitions.begin_step(session, payment_id, PaymentStep.VOIDING)
    if payment.processing_step == PaymentStep.VOIDING:
        await transitions.record_void(session, payment_id)
    await transitions.fail(session, payment_id, reason)
