"""The Stripe connector against localstripe: tokenize, hold, capture part, refund, cancel, and
authentication asked for. What localstripe does not do (honour Idempotency-Key, decline
cards, search PaymentIntents, refuse over-refunds) is covered in test_stripe_answers.py."""

import uuid

import pytest

from payments_core.gateway.connector import (
    AuthorizeRequest,
    CaptureRequest,
    CardDetails,
    RefundRequest,
)
from payments_core.gateway.errors import AuthenticationRequired
from payments_core.gateway.stripe import StripeConnector
from payments_core.secret import Secret


async def _card(stripe: StripeConnector, number: str = "4242424242424242") -> str:
    tokenized = await stripe.tokenize(CardDetails(Secret(number), 12, 2035, Secret("123")))
    return tokenized.token


def _authorize(
    token: str, amount: int = 10_000, *, authenticated: bool = False
) -> AuthorizeRequest:
    payment_id = str(uuid.uuid4())
    return AuthorizeRequest(
        f"{payment_id}-authorize", payment_id, amount, "USD", token, authenticated
    )


async def test_a_card_is_tokenized_as_a_payment_method(stripe: StripeConnector) -> None:
    tokenized = await stripe.tokenize(
        CardDetails(Secret("4242424242424242"), 12, 2035, Secret("123"))
    )

    assert tokenized.token.startswith("pm_")
    assert (tokenized.brand, tokenized.last_four, tokenized.exp_year) == ("visa", "4242", 2035)


async def test_a_hold_is_captured_in_part_then_refunded(stripe: StripeConnector) -> None:
    request = _authorize(await _card(stripe))

    held = await stripe.authorize(request)
    assert held.reference.startswith("pi_")
    captured = await stripe.capture(
        CaptureRequest(f"{request.payment_id}-capture", held.reference, 6_000, "USD")
    )
    assert captured.reference == held.reference  # the PaymentIntent is the reference
    refund = await stripe.refund(
        RefundRequest(f"{uuid.uuid4()}-refund", captured.reference, 6_000, "USD")
    )

    assert refund.reference.startswith("re_")


async def test_a_card_that_asks_for_authentication_holds_nothing_yet(
    stripe: StripeConnector,
) -> None:
    request = _authorize(await _card(stripe, "4000002500003155"))

    with pytest.raises(AuthenticationRequired):
        await stripe.authorize(request)
