"""Verifying Stripe's webhook notices (`Stripe-Signature`), as Stripe documents it: the header
holds `t=<unix seconds>` and one or more `v1=<hex HMAC-SHA256 of "{t}.{raw body}">` keyed with
the endpoint's `whsec_…` secret (the whole string, prefix included); any matching `v1` passes,
other schemes are ignored, and a timestamp further than the tolerance (default 300 s) from now
is refused, so a captured notice cannot be replayed later.
"""

import hashlib
import hmac
import time

DEFAULT_TOLERANCE_SECONDS = 300


class SignatureInvalid(ValueError):
    """The notice is not Stripe's, or not now: refuse it (400) and change nothing."""


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The `v1` signature Stripe sends for `payload` at `timestamp` (tests, local tools)."""
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """The notice's timestamp when `header` signs `payload` with `secret`; else SignatureInvalid."""
    if not header:
        raise SignatureInvalid("no Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureInvalid("Stripe-Signature has no timestamp or no v1 signature")
    expected = sign(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureInvalid("no v1 signature matches the payload")
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        raise SignatureInvalid("the signature's timestamp is outside the tolerance")
    return timestamp
