"""Webhook secrets at rest: sealed with AES-GCM, bound to their endpoint, never in clear."""

import base64
import uuid

import pytest

from payments_core.webhooks.secret_box import SecretBox, decode_key, new_key
from payments_core.webhooks.signing import generate_secret


def test_a_sealed_secret_opens_only_with_its_key_and_its_endpoint() -> None:
    box = SecretBox(new_key())
    secret = generate_secret()
    endpoint = str(uuid.uuid4())
    sealed = box.seal(secret, bound_to=endpoint)

    assert secret not in sealed and secret.removeprefix("whsec_") not in sealed
    assert box.open(sealed, bound_to=endpoint).reveal() == secret
    # Copied onto another endpoint's row, it does not open.
    with pytest.raises(ValueError, match="does not open"):
        box.open(sealed, bound_to=str(uuid.uuid4()))
    # Another key names itself in the error instead of failing obscurely.
    with pytest.raises(ValueError, match="WEBHOOK_ENCRYPTION_KEY is key"):
        SecretBox(new_key()).open(sealed, bound_to=endpoint)


def test_sealing_twice_gives_different_ciphertexts() -> None:
    box = SecretBox(new_key())
    secret = generate_secret()
    assert box.seal(secret, bound_to="e") != box.seal(secret, bound_to="e")


def test_a_tampered_ciphertext_is_refused() -> None:
    box = SecretBox(new_key())
    sealed = box.seal(generate_secret(), bound_to="e")
    version, key_id, payload = sealed.split(".")
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 1
    with pytest.raises(ValueError, match="does not open"):
        box.open(f"{version}.{key_id}.{base64.b64encode(bytes(raw)).decode()}", bound_to="e")
    with pytest.raises(ValueError, match="unknown format"):
        box.open("v9.x.y", bound_to="e")


@pytest.mark.parametrize("bad", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_key_that_is_not_32_bytes_is_refused_without_quoting_it(bad: str) -> None:
    with pytest.raises(ValueError, match="32 random bytes") as caught:
        decode_key(bad)
    assert not bad or bad not in str(caught.value)


def test_url_safe_and_unpadded_keys_are_accepted() -> None:
    raw = bytes(range(32))
    for text in (
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ):
        assert decode_key(text) == raw
