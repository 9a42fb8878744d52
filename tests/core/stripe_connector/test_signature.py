"""Stripe-Signature verification, against the scheme Stripe documents (and the signature its own
library computes for the same inputs: the `stripe` package's WebhookSignature)."""

import pytest
import stripe

from payments_core.gateway.stripe.signature import SignatureInvalid, sign, verify

SECRET = "whsec_" + "test" * 8
PAYLOAD = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
NOW = 1_796_663_000


def header(timestamp: int = NOW, *signatures: str) -> str:
    parts = [
        f"t={timestamp}",
        *(f"v1={s}" for s in signatures or (sign(PAYLOAD, SECRET, timestamp),)),
    ]
    return ",".join(parts)


def test_a_signed_notice_passes_and_gives_its_timestamp() -> None:
    assert verify(PAYLOAD, header(), SECRET, now=NOW + 10) == NOW


def test_any_matching_v1_passes_beside_others_and_other_schemes() -> None:
    mixed = f"t={NOW},v0=abc,v1={'0' * 64},v1={sign(PAYLOAD, SECRET, NOW)}"
    assert verify(PAYLOAD, mixed, SECRET, now=NOW) == NOW


@pytest.mark.parametrize(
    ("payload", "given", "secret", "now"),
    [
        (PAYLOAD + b" ", header(), SECRET, NOW),  # the body changed
        (PAYLOAD, header(), SECRET + "x", NOW),  # another endpoint's secret
        (PAYLOAD, header(), SECRET, NOW + 301),  # replayed after the tolerance
        (PAYLOAD, header(), SECRET, NOW - 301),  # from the future
        (PAYLOAD, f"t={NOW}", SECRET, NOW),  # no signature
        (PAYLOAD, f"v1={sign(PAYLOAD, SECRET, NOW)}", SECRET, NOW),  # no timestamp
        (PAYLOAD, "", SECRET, NOW),
        (PAYLOAD, None, SECRET, NOW),
    ],
)
def test_anything_else_is_refused(payload: bytes, given: str | None, secret: str, now: int) -> None:
    with pytest.raises(SignatureInvalid):
        verify(payload, given, secret, now=now)


def test_our_signatures_are_stripes_and_its_are_ours() -> None:
    """Stripe's own library (the `stripe` package, a dev dependency) signs and verifies the same:
    its header passes our check, ours passes its check."""
    theirs = stripe.WebhookSignature.generate_signature_header(
        PAYLOAD.decode(), SECRET, timestamp=NOW
    )
    assert verify(PAYLOAD, theirs, SECRET, now=NOW) == NOW
    assert stripe.WebhookSignature.verify_header(PAYLOAD.decode(), header(), SECRET, tolerance=None)
