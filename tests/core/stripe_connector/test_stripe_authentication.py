"""Stripe's 3-D Secure and its refusals, against Stripe's documented answers: a PaymentIntent
confirmed with a return_url asks for authentication as `redirect_to_url` (localstripe only knows
`use_stripe_sdk`); after the challenge the PaymentIntent is read by its id (localstripe ignores
Idempotency-Key, so a replay would create another); a request Stripe refuses itself is no
decline; a connection never made is GatewayUnreachable."""

import dataclasses
from urllib.parse import parse_qs

import httpx
import pytest

from payments_core.gateway.connector import AuthorizeRequest
from payments_core.gateway.errors import (
    AuthenticationRequired,
    GatewayDeclined,
    GatewayRefused,
    GatewayUnreachable,
)
from payments_core.gateway.stripe import StripeConnector
from payments_core.gateway.stripe.client import StripeClient
from payments_core.secret import Secret

RETURN_URL = "https://payments.example/api/v1/authentication-returns/pay-1"
AUTHORIZE = AuthorizeRequest(
    "pay-1-authorize", "pay-1", 10_000, "USD", "pm_1", return_url=RETURN_URL
)
STRIPE_PAGE = "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1&payment_intent=pi_1"


def _stripe(
    answer: httpx.Response, sent: list[httpx.Request], *, redirect: bool = True
) -> StripeConnector:
    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answer

    client = StripeClient(
        Secret("sk_test_x"), api_base="https://stripe.test", transport=httpx.MockTransport(record)
    )
    return StripeConnector(client, redirect_authentication=redirect)


def _requires_action() -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "pi_1",
            "status": "requires_action",
            "next_action": {
                "type": "redirect_to_url",
                "redirect_to_url": {"url": STRIPE_PAGE, "return_url": RETURN_URL},
            },
        },
    )


async def test_a_challenge_is_stripe_s_page_and_the_payment_intent() -> None:
    sent: list[httpx.Request] = []
    with pytest.raises(AuthenticationRequired) as raised:
        await _stripe(_requires_action(), sent).authorize(AUTHORIZE)

    assert (raised.value.reference, raised.value.redirect_url) == ("pi_1", STRIPE_PAGE)
    assert parse_qs(sent[0].content.decode())["return_url"] == [RETURN_URL]


async def test_without_redirects_no_return_url_is_sent_and_the_sdk_challenge_has_no_page() -> None:
    sent: list[httpx.Request] = []
    sdk = httpx.Response(
        200,
        json={
            "id": "pi_1",
            "status": "requires_action",
            "next_action": {"type": "use_stripe_sdk", "use_stripe_sdk": {}},
        },
    )
    with pytest.raises(AuthenticationRequired) as raised:
        await _stripe(sdk, sent, redirect=False).authorize(AUTHORIZE)

    assert (raised.value.reference, raised.value.redirect_url) == ("pi_1", None)
    assert "return_url" not in parse_qs(sent[0].content.decode())


@pytest.mark.parametrize(
    ("status", "error"),
    [("requires_capture", None), ("requires_action", AuthenticationRequired)],
)
async def test_after_the_challenge_the_payment_intent_is_read_by_its_id(
    status: str, error: type[Exception] | None
) -> None:
    sent: list[httpx.Request] = []
    answer = httpx.Response(200, json={"id": "pi_1", "status": status})
    stripe = _stripe(answer, sent)
    asked_again = dataclasses.replace(AUTHORIZE, authenticated=True, reference="pi_1")

    if error is None:
        assert (await stripe.authorize(asked_again)).reference == "pi_1"
    else:
        with pytest.raises(error):
            await stripe.authorize(asked_again)
    assert [(request.method, request.url.path) for request in sent] == [
        ("GET", "/v1/payment_intents/pi_1")
    ]


async def test_a_failed_authentication_is_a_decline() -> None:
    failed = httpx.Response(
        200,
        json={
            "id": "pi_1",
            "status": "requires_payment_method",
            "last_payment_error": {"code": "payment_intent_authentication_failure"},
        },
    )
    asked_again = dataclasses.replace(AUTHORIZE, authenticated=True, reference="pi_1")
    with pytest.raises(GatewayDeclined):
        await _stripe(failed, []).authorize(asked_again)


async def test_a_request_stripe_refuses_itself_is_no_decline() -> None:
    refused = httpx.Response(
        400,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "parameter_unknown",
                "message": "Received unknown parameter: return_url",
            }
        },
    )
    with pytest.raises(GatewayRefused) as raised:
        await _stripe(refused, []).authorize(AUTHORIZE)
    assert (raised.value.code, raised.value.retryable) == ("processing_error", False)


async def test_a_connection_never_made_is_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = StripeClient(
        Secret("sk_test_x"), api_base="https://stripe.test", transport=httpx.MockTransport(refuse)
    )
    with pytest.raises(GatewayUnreachable) as raised:
        await StripeConnector(client).authorize(AUTHORIZE)
    assert raised.value.retryable
