"""Standard Webhooks 1.0 signing (CONTRACT §3).

``webhook-signature`` is ``v1,<base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))>`` where
``key`` is the base64-decoded part of the secret after ``whsec_``. While a secret is being rotated
two (or more) secrets are live and the header carries one ``v1,…`` entry per secret, separated by
single spaces; a verifier holding any one of them accepts the message.

Secrets: every function here accepts a :class:`~payments_core.secret.Secret` *or* a plain ``str``.
Callers should keep secrets wrapped in ``Secret`` from the moment they are read from the database
so they never end up in logs or reprs; plain strings are accepted so that the value returned by
:func:`generate_secret` (shown to the merchant once, then stored) can be used directly. Error
messages raised here never include the secret.
"""

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Sequence

from payments_core.secret import Secret

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"


def generate_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: Secret | str) -> bytes:
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if not value.startswith(SECRET_PREFIX):
        raise ValueError(f"webhook secret must start with {SECRET_PREFIX!r}")
    encoded = value[len(SECRET_PREFIX) :]
    try:
        # Tolerate missing padding, like the reference verifiers do.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret is not valid base64 after 'whsec_'") from None
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _signed_content(message_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{message_id}.{timestamp}.".encode() + body


def sign(secrets: Sequence[Secret | str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: one ``v1,<sig>`` per live secret, space-separated.

    ``timestamp`` is Unix seconds of this attempt (the same value goes in ``webhook-timestamp``);
    ``body`` is exactly the bytes sent. Raises ``ValueError`` when no secret is given or a secret
    is malformed.
    """
    if isinstance(secrets, str | Secret):
        raise TypeError("secrets must be a sequence of secrets, not a single secret")
    if not secrets:
        raise ValueError("at least one webhook secret is required")
    content = _signed_content(message_id, timestamp, body)
    entries = []
    for secret in secrets:
        digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
        entries.append(f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}")
    return " ".join(entries)


def webhook_headers(
    secrets: Sequence[Secret | str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """All headers a delivery attempt carries (CONTRACT §3)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets, message_id, timestamp, body),
        "content-type": "application/json",
    }
