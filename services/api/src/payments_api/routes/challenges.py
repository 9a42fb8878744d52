"""The sandbox's customer-authentication page (3-D Secure style), reached by the customer's
browser through the payment's `nextAction.redirectToUrl.url`; and the return from a processor's
own authentication page (`/authentication-returns/{payment_id}`).

No API key: the single-use token in the URL is the credential, and it names one payment only
(looked up by its hash), so no other merchant's payment can be reached through it. A browser
(which asks for text/html) gets pages; any other client gets the contract's JSON errors.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from payments_api import challenge_page
from payments_api.deps import SessionDep, StateDep, parse_id
from payments_api.responses import error_responses
from payments_core.errors import InvalidRequest, InvalidState, NotFound, PaymentsError
from payments_core.merchants.models import Merchant
from payments_core.payment_methods.models import PaymentMethod
from payments_core.payments import authentication
from payments_core.payments.models import Payment
from payments_core.payments.status import AuthenticationOutcome

router = APIRouter(tags=["customer authentication"])

Token = Annotated[str, Path(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
OUTCOMES = {
    challenge_page.ChallengeOutcome.APPROVE: AuthenticationOutcome.APPROVED,
    challenge_page.ChallengeOutcome.DECLINE: AuthenticationOutcome.DECLINED,
}
UNKNOWN = "This authentication link is not valid."
CLOSED = "This authentication was already answered or has expired."


def _html_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


# A browser (Accept: text/html) gets refusals as pages; other clients as the contract's errors.
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(409),
    410: _html_response("the challenge was already answered, or has expired"),
}


@router.get(
    "/sandbox/challenges/{token}",
    summary="The sandbox's authentication page for a payment that requires_action (HTML)",
    response_model=None,
    responses={**PAGE_RESPONSES, 200: _html_response("the challenge page: Approve or Decline")},
)
async def show_challenge(token: Token, request: Request, session: SessionDep) -> Response:
    payment = await authentication.find_by_token(session, token)
    if payment is None:
        return _refusal(request, NotFound(UNKNOWN, param="token"), 404)
    if not authentication.is_open(payment):
        return _refusal(request, InvalidState(CLOSED, code="authentication_closed"), 410)
    merchant = await session.get(Merchant, payment.merchant_id)
    method = await session.get(PaymentMethod, payment.payment_method_id)
    page = challenge_page.render_challenge(
        merchant_name=merchant.name if merchant else "",
        amount=payment.amount,
        currency=payment.currency,
        card_last_four=method.last_four if method else None,
    )
    return _html(page, 200, payment.return_url)


@router.post(
    "/sandbox/challenges/{token}",
    summary="Answer the authentication (form field outcome=approve|decline); 303 to returnUrl",
    status_code=303,
    response_model=None,
    responses={
        **PAGE_RESPONSES,
        413: error_responses()[413],
        200: _html_response("the outcome page (the payment has no returnUrl)"),
        303: {"description": "To the returnUrl, with ?payment_id=<id> added"},
    },
)
async def answer_challenge(
    token: Token, request: Request, session: SessionDep, state: StateDep
) -> Response:
    pressed = challenge_page.read_outcome(await request.body())
    if pressed is None:
        error = InvalidRequest("outcome must be approve or decline", param="outcome")
        return _refusal(request, error, 400)
    outcome = OUTCOMES[pressed]
    payment = await authentication.answer(session, token, outcome)
    if payment is None:  # unknown, used (a second submission), expired, or no longer waiting
        await session.rollback()
        return _refusal(request, InvalidState(CLOSED, code="authentication_closed"), 410)
    payment_id, return_url = payment.id, payment.return_url
    await session.commit()
    await state.signals.wake(str(payment_id))
    if return_url:
        return RedirectResponse(challenge_page.redirect_target(return_url, str(payment_id)), 303)
    return _html(_outcome_page(outcome, payment_id), 200, None)


@router.get(
    "/authentication-returns/{payment_id}",
    summary="Where a processor's own authentication page (Stripe's 3-D Secure) sends the "
    "customer back: wakes the payment, then 303 to its returnUrl",
    status_code=303,
    response_model=None,
    responses={
        **PAGE_RESPONSES,
        200: _html_response("a page saying the payment is being processed (no returnUrl)"),
        303: {"description": "To the returnUrl, with ?payment_id=<id> added"},
    },
)
async def authentication_return(
    payment_id: str, request: Request, session: SessionDep, state: StateDep
) -> Response:
    """No credential is needed, and none is trusted: the processor's answer is asked of the
    processor by the workflow this wakes; the browser only learns where to go next."""
    found = await session.get(Payment, parse_id(payment_id, "payment"))
    if found is None or found.connector_id is None:
        return _refusal(request, NotFound(f"no payment with id {payment_id}", param="id"), 404)
    await state.signals.wake(str(found.id))
    if found.return_url:
        return RedirectResponse(
            challenge_page.redirect_target(found.return_url, str(found.id)), 303
        )
    page = challenge_page.render_outcome(
        title="Payment authenticated",
        message=f"Thank you. Payment {found.id} is being processed; you may close this page.",
    )
    return _html(page, 200, None)


def _outcome_page(outcome: AuthenticationOutcome, payment_id: uuid.UUID) -> str:
    if outcome is AuthenticationOutcome.APPROVED:
        return challenge_page.render_outcome(
            title="Payment authenticated",
            message=f"Thank you. Payment {payment_id} is being processed; you may close this page.",
        )
    return challenge_page.render_outcome(
        title="Authentication declined",
        message=f"Payment {payment_id} was not authorized. You may close this page.",
    )


def _refusal(request: Request, error: PaymentsError, status_code: int) -> Response:
    if "text/html" not in request.headers.get("accept", ""):
        raise error  # the contract's JSON error, through the app's handler
    page = challenge_page.render_outcome(title="Authentication unavailable", message=error.message)
    return _html(page, status_code, None)


def _html(page: str, status_code: int, return_url: str | None) -> HTMLResponse:
    return HTMLResponse(page, status_code, headers=challenge_page.page_headers(return_url))
