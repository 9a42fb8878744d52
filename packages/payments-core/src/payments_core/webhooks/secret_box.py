"""Webhook secrets at rest: AES-256-GCM under WEBHOOK_ENCRYPTION_KEY.

A `whsec_` secret cannot be hashed like an API key: every delivery needs it to sign. So the
database holds it sealed, bound to its endpoint (the endpoint id is the associated data, so a
sealed value copied onto another row does not open), and only the processes that hold the key
can read it. A sealed value is `v1.<key id>.<base64(nonce | ciphertext | tag)>`; the key id (the
first bytes of the key's SHA-256) names which key sealed it, so a wrong key fails with a clear
message rather than a bare authentication error.
"""

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from payments_core.secret import Secret

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = "v1"


def decode_key(value: str) -> bytes:
    """The 32-byte key from its base64 (standard or URL-safe) text; ValueError otherwise."""
    text = value.strip()
    try:
        urlsafe = text.replace("+", "-").replace("/", "_")
        key = base64.urlsafe_b64decode(urlsafe + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 of 32 random bytes") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"must be base64 of {KEY_BYTES} random bytes, got {len(key)} bytes")
    return key


def new_key() -> str:
    """A fresh key in the form WEBHOOK_ENCRYPTION_KEY takes."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


class SecretBox:
    def __init__(self, key: str) -> None:
        raw = decode_key(key)
        self._aead = AESGCM(raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:8]

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self.key_id!r})"

    def seal(self, secret: str, *, bound_to: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), bound_to.encode())
        payload = base64.b64encode(nonce + sealed).decode("ascii")
        return f"{_VERSION}.{self.key_id}.{payload}"

    def open(self, sealed: str, *, bound_to: str) -> Secret:
        version, key_id, payload = [*sealed.split(".", 2), "", ""][:3]
        if version != _VERSION:
            raise ValueError("sealed webhook secret has an unknown format")
        if key_id != self.key_id:
            raise ValueError(
                f"webhook secret was sealed with key {key_id}, "
                f"but WEBHOOK_ENCRYPTION_KEY is key {self.key_id}"
            )
        try:
            raw = base64.b64decode(payload, validate=True)
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise ValueError("sealed webhook secret does not open with this key") from None
        return Secret(plain.decode())
