"""What localstripe cannot show, against Stripe's documented answers (a transport that answers
as Stripe's API reference shows and records what we sent): localstripe ignores Idempotency-Key,
never declines a card, has no PaymentIntent search, and never answers 429 or 5xx."""

from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from payments_core.gateway.connector import (
    AuthorizeRequest,
    CaptureRequest,
    RefundRequest,
    VoidRequest,
)
from payments_core.gateway.errors import (
    CaptureFailed,
    GatewayDeclined,
    GatewayTimeout,
    GatewayUnavailable,
    VoidRefused,
)
from payments_core.gateway.stripe import StripeConnector
from payments_core.gateway.stripe.client import API_VERSION, StripeClient, encode
from payments_core.secret import Secret

Answer = Callable[[httpx.Request], httpx.Response]
AUTHORIZE = AuthorizeRequest("pay-1-authorize", "pay-1", 10_000, "NGN", "pm_1")


def _stripe(answer: Answer, sent: list[httpx.Request]) -> StripeConnector:
    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answer(request)

    client = StripeClient(
        Secret("sk_test_x"), api_base="https://stripe.test", transport=httpx.MockTransport(record)
    )
    return StripeConnector(client)


def _intent(status: str, **extra: object) -> dict[str, object]:
    return {"id": "pi_1", "object": "payment_intent", "status": status, "amount": 10_000, **extra}


def _card_error(code: str, decline_code: str | None = None) -> httpx.Response:
    error = {"type": "card_error", "code": code, "message": "Your card was declined."}
    if decline_code:
        error["decline_code"] = decline_code
    return httpx.Response(402, json={"error": error})


async def test_every_mutating_call_carries_our_idempotency_key_and_a_pinned_version() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/payment_intents/search":
            return httpx.Response(200, json={"data": [_intent("requires_capture")]})
        if request.url.path == "/v1/refunds":
            return httpx.Response(200, json={"id": "re_1", "status": "succeeded"})
        return httpx.Response(
            200, json=_intent("succeeded" if "capture" in request.url.path else "requires_capture")
        )

    stripe = _stripe(answer, sent)
    await stripe.authorize(AUTHORIZE)
    await stripe.capture(CaptureRequest("pay-1-capture", "pi_1", 4_000, "NGN"))
    await stripe.refund(RefundRequest("ref-1-refund", "pi_1", 4_000, "NGN"))
    await stripe.void(VoidRequest("pay-2-void", "pay-2-authorize"))

    posts = [
        (request.url.path, request.headers.get("idempotency-key"))
        for request in sent
        if request.method == "POST"
    ]
    assert posts == [
        ("/v1/payment_intents", "pay-1-authorize"),
        ("/v1/payment_intents/pi_1/capture", "pay-1-capture"),
        ("/v1/refunds", "ref-1-refund"),
        ("/v1/payment_intents/pi_1/cancel", "pay-2-void"),
    ]
    assert all(request.headers["stripe-version"] == API_VERSION for request in sent)
    created = parse_qs(sent[0].content.decode())
    assert created["metadata[idempotency_key]"] == ["pay-1-authorize"]
    assert (created["capture_method"], created["confirm"], created["currency"]) == (
        ["manual"],
        ["true"],
        ["ngn"],
    )
    assert parse_qs(sent[1].content.decode())["amount_to_capture"] == ["4000"]


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (_card_error("card_declined", "insufficient_funds"), "insufficient_funds"),
        (_card_error("card_declined", "do_not_honor"), "card_declined"),
        (_card_error("expired_card"), "card_declined"),
        (
            httpx.Response(
                200,
                json=_intent(
                    "requires_payment_method",
                    last_payment_error={
                        "code": "card_declined",
                        "decline_code": "insufficient_funds",
                    },
                ),
            ),
            "insufficient_funds",
        ),
    ],
)
async def test_declines_map_to_the_contracts_codes(answer: httpx.Response, code: str) -> None:
    stripe = _stripe(lambda _: answer, [])

    with pytest.raises(GatewayDeclined) as declined:
        await stripe.authorize(AUTHORIZE)

    assert declined.value.code == code
    assert not declined.value.retryable


@pytest.mark.parametrize("status", [409, 429, 500, 503])
async def test_rate_limits_conflicts_and_5xx_are_retried_with_the_same_key(status: int) -> None:
    stripe = _stripe(lambda _: httpx.Response(status, json={"error": {"type": "api_error"}}), [])

    with pytest.raises(GatewayUnavailable) as unavailable:
        await stripe.authorize(AUTHORIZE)

    assert unavailable.value.retryable


async def test_a_timeout_is_a_retryable_gateway_timeout() -> None:
    def silent(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    with pytest.raises(GatewayTimeout):
        await _stripe(silent, []).authorize(AUTHORIZE)


async def test_a_refused_capture_is_final() -> None:
    refusal = httpx.Response(
        400, json={"error": {"type": "invalid_request_error", "code": "amount_too_large"}}
    )
    with pytest.raises(CaptureFailed):
        await _stripe(lambda _: refusal, []).capture(
            CaptureRequest("pay-1-capture", "pi_1", 20_000, "NGN")
        )


async def test_a_void_finds_the_hold_by_its_key_and_is_refused_once_captured() -> None:
    nothing = _stripe(lambda _: httpx.Response(200, json={"data": []}), [])
    assert (await nothing.void(VoidRequest("pay-1-void", "pay-1-authorize"))).reference is None

    captured = _stripe(lambda _: httpx.Response(200, json={"data": [_intent("succeeded")]}), [])
    with pytest.raises(VoidRefused):
        await captured.void(VoidRequest("pay-1-void", "pay-1-authorize"))


async def test_lookup_reads_the_payment_intent_found_by_the_authorizations_key() -> None:
    sent: list[httpx.Request] = []
    stripe = _stripe(
        lambda _: httpx.Response(200, json={"data": [_intent("succeeded", amount_received=4_000)]}),
        sent,
    )

    capture = await stripe.lookup("pay-1-capture")

    assert capture is not None and capture.approved
    assert (capture.reference, capture.amount) == ("pi_1", 4_000)
    assert sent[0].url.params["query"] == "metadata['idempotency_key']:'pay-1-authorize'"
    with pytest.raises(GatewayUnavailable):  # a refund's outcome stays unknown, never "none"
        await stripe.lookup("ref-1-refund")


def test_nested_objects_use_stripes_form_encoding() -> None:
    assert encode({"card": {"number": "4242", "exp_month": 12}, "confirm": True, "x": None}) == {
        "card[number]": "4242",
        "card[exp_month]": "12",
        "confirm": "true",
    }
    assert encode({"metadata": {}}) == {}
