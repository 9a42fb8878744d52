"""The sandbox's test cards and what each one does (CONTRACT.md, "Sandbox gateway test cards")."""

from enum import StrEnum


class CardBehaviour(StrEnum):
    SUCCEED = "succeed"
    DECLINE = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    TRANSIENT_THEN_SUCCEED = "transient_then_succeed"
    CAPTURE_FAILS = "capture_failed"
    TIMEOUT = "gateway_timeout"
    # Authorizes and captures, but every refund call's answer is lost (the refund happens).
    REFUND_TIMEOUT = "refund_timeout"
    # Authorizes only once the customer passed the issuer's challenge (3-D Secure).
    AUTHENTICATION_REQUIRED = "authentication_required"


TEST_CARDS: dict[str, CardBehaviour] = {
    "4242424242424242": CardBehaviour.SUCCEED,
    "5555555555554444": CardBehaviour.SUCCEED,
    "5060666666666666666": CardBehaviour.SUCCEED,
    "4000000000000002": CardBehaviour.DECLINE,
    "4000000000009995": CardBehaviour.INSUFFICIENT_FUNDS,
    "4000000000000119": CardBehaviour.TRANSIENT_THEN_SUCCEED,
    "4000000000000259": CardBehaviour.CAPTURE_FAILS,
    "4000000000000341": CardBehaviour.TIMEOUT,
    "4000000000009235": CardBehaviour.REFUND_TIMEOUT,
    "4000002500003155": CardBehaviour.AUTHENTICATION_REQUIRED,
}
