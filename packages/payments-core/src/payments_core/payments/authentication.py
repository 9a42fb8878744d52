"""Customer authentication (3-D Secure style): the challenge's single-use token, its answer, its
timeout. Each change under the payment's row lock, with its event, in the caller's transaction.

The token is only ever in the challenge URL (the payment's `nextAction` while it is open); the
row keeps its sha256, which the page looks the payment up by. The first answer, the customer's
or the timeout's, wins; every later one is refused.
"""

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from payments_core.db.columns import utcnow
from payments_core.events.envelope import EventType
from payments_core.payments.models import Payment
from payments_core.payments.status import AuthenticationOutcome, PaymentStatus, PaymentStep
from payments_core.payments.transitions import enter, enter_step, fail_locked, lock

CHALLENGE_PATH = "/api/v1/sandbox/challenges/"
# Where a processor's own challenge page (Stripe's 3-D Secure) sends the customer's browser back.
RETURN_PATH = "/api/v1/authentication-returns/{payment_id}"
AUTHENTICATION_FAILED = "authentication_failed"
AUTHENTICATION_TIMEOUT = "authentication_timeout"
TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def challenge_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url}{CHALLENGE_PATH}{token}"


async def require(
    session: AsyncSession,
    payment_id: uuid.UUID,
    *,
    public_base_url: str,
    answer_within: timedelta,
    processor_url: str | None = None,
    processor_reference: str | None = None,
) -> Payment:
    """The gateway asked for authentication: processing → requires_action with a new challenge
    (emits payment.requires_action). Idempotent: a retried activity keeps the first challenge.

    The sandbox's challenge is the platform's page, reached by a single-use token; a processor
    hosting its own (`processor_url`, e.g. Stripe's 3-D Secure page) is sent to as it is, and
    its answer is asked of the processor (`hosted_by_processor`), with no token of ours."""
    payment = await lock(session, payment_id)
    if payment.processing_step == PaymentStep.AUTHENTICATING:
        return payment
    enter_step(payment, PaymentStep.AUTHENTICATING)
    url = processor_url
    payment.authentication_token_hash = None
    if url is None:
        token = new_token()
        payment.authentication_token_hash = token_hash(token)
        url = challenge_url(public_base_url, token)
    if processor_reference is not None:
        payment.gateway_reference = processor_reference
    payment.authentication_outcome = None
    payment.authentication_expires_at = utcnow() + answer_within
    payment.next_action = {
        "type": "redirect_to_url",
        "redirectToUrl": {"url": url, "returnUrl": payment.return_url},
    }
    enter(session, payment, PaymentStatus.REQUIRES_ACTION, EventType.PAYMENT_REQUIRES_ACTION)
    return payment


async def find_by_token(session: AsyncSession, token: str) -> Payment | None:
    statement = select(Payment).where(col(Payment.authentication_token_hash) == token_hash(token))
    return (await session.execute(statement)).scalar_one_or_none()


def is_open(payment: Payment) -> bool:
    """Whether the challenge still takes an answer."""
    return (
        payment.status == PaymentStatus.REQUIRES_ACTION
        and payment.authentication_outcome is None
        and payment.authentication_expires_at is not None
        and payment.authentication_expires_at > utcnow()
    )


async def answer(
    session: AsyncSession, token: str, outcome: AuthenticationOutcome
) -> Payment | None:
    """The customer answered the challenge: approved → processing (emits payment.processing),
    the workflow then authorizes; declined → failed, authentication_failed. None when the token
    is unknown, used, expired or its payment no longer waits: nothing changes then."""
    found = await find_by_token(session, token)
    if found is None:
        return None
    return record_answer(session, await lock(session, found.id), outcome)


def hosted_by_processor(payment: Payment) -> bool:
    """Whether the open challenge is the processor's page (its answer is the processor's)."""
    return payment.connector_id is not None and payment.authentication_token_hash is None


def record_answer(
    session: AsyncSession, payment: Payment, outcome: AuthenticationOutcome
) -> Payment | None:
    """The answer to the locked payment's challenge, if it still takes one (None otherwise)."""
    if not is_open(payment):
        return None
    payment.authentication_outcome = outcome.value
    if outcome is AuthenticationOutcome.APPROVED:
        enter(session, payment, PaymentStatus.PROCESSING, EventType.PAYMENT_PROCESSING)
        return payment
    return fail_locked(session, payment, AUTHENTICATION_FAILED)


async def settle(session: AsyncSession, payment_id: uuid.UUID, *, timed_out: bool) -> Payment:
    """The workflow woke from its wait: on its timeout an unanswered challenge is closed (failed,
    authentication_timeout, so a late answer is refused). Returns the payment as it is now."""
    payment = await lock(session, payment_id)
    waiting = (
        payment.status == PaymentStatus.REQUIRES_ACTION and payment.authentication_outcome is None
    )
    if waiting and timed_out:
        payment.authentication_outcome = AuthenticationOutcome.TIMED_OUT.value
        return fail_locked(session, payment, AUTHENTICATION_TIMEOUT)
    return payment
