"""API key material: generated with `secrets`, stored only as a SHA-256 hash.

A key carries 40 random base62 characters (~238 bits), so a fast hash is safe: nobody can
brute-force the preimage, and authentication stays one indexed lookup per request.
"""

import hashlib
import secrets
import string
from dataclasses import dataclass

_ALPHABET = string.ascii_letters + string.digits
RANDOM_LENGTH = 40
MODES = {"test": "sk_test_", "live": "sk_live_"}


@dataclass(frozen=True, slots=True)
class NewKey:
    plaintext: str
    key_hash: str
    prefix: str
    last_four: str
    mode: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key(mode: str = "test") -> NewKey:
    plaintext = MODES[mode] + "".join(secrets.choice(_ALPHABET) for _ in range(RANDOM_LENGTH))
    return NewKey(plaintext, hash_key(plaintext), plaintext[:12], plaintext[-4:], mode)


def looks_like_key(value: str) -> bool:
    return value.startswith(tuple(MODES.values())) and len(value) >= 8 + 32
