"""Signing is verified with `standardwebhooks`, the reference library; never with our own code."""

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from payments_core.secret import Secret
from payments_core.webhooks.signing import generate_secret, sign, webhook_headers

BODY = b'{"id":"evt_1","type":"payment.succeeded","data":{"amount":1000,"note":"na\xc3\xafve"}}'
MSG_ID = "evt_1"


def _now() -> int:
    return int(time.time())


def test_generate_secret_format() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert generate_secret() != secret


@pytest.mark.parametrize("wrap", [str, Secret], ids=["plain", "wrapped"])
def test_one_secret_verifies(wrap: type) -> None:
    secret = generate_secret()
    headers = webhook_headers([wrap(secret)], MSG_ID, _now(), BODY)
    assert headers["webhook-id"] == MSG_ID
    assert headers["content-type"] == "application/json"
    assert headers["webhook-signature"].startswith("v1,")
    assert " " not in headers["webhook-signature"]
    assert Webhook(secret).verify(BODY, headers) == {
        "id": "evt_1",
        "type": "payment.succeeded",
        "data": {"amount": 1000, "note": "naïve"},
    }


def test_rotation_either_secret_accepts_third_rejects() -> None:
    old, new, other = generate_secret(), generate_secret(), generate_secret()
    headers = webhook_headers([Secret(old), Secret(new)], MSG_ID, _now(), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(BODY, headers)


def test_sign_matches_header_value() -> None:
    secret = generate_secret()
    ts = _now()
    assert (
        sign([secret], MSG_ID, ts, BODY)
        == webhook_headers([secret], MSG_ID, ts, BODY)["webhook-signature"]
    )


def test_tampered_body_rejects() -> None:
    secret = generate_secret()
    headers = webhook_headers([secret], MSG_ID, _now(), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"1000", b"9000"), headers)


def test_tampered_id_rejects() -> None:
    secret = generate_secret()
    headers = webhook_headers([secret], MSG_ID, _now(), BODY)
    headers["webhook-id"] = "evt_2"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, headers)


def test_tampered_timestamp_rejects() -> None:
    secret = generate_secret()
    headers = webhook_headers([secret], MSG_ID, _now(), BODY)
    headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) + 1)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, headers)


def test_old_timestamp_rejects() -> None:
    # The reference library's tolerance is 5 minutes.
    secret = generate_secret()
    headers = webhook_headers([secret], MSG_ID, _now() - 10 * 60, BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


def test_unpadded_secret_is_accepted_like_the_reference() -> None:
    key = b"\x01" * 31  # base64 of 31 bytes needs one '=' of padding
    unpadded = "whsec_" + base64.b64encode(key).decode().rstrip("=")
    headers = webhook_headers([unpadded], MSG_ID, _now(), BODY)
    Webhook(unpadded).verify(BODY, headers)


@pytest.mark.parametrize(
    "bad", ["", "whsec_", "sk_abc", "whsec_not base64!!"], ids=["empty", "no-key", "prefix", "b64"]
)
def test_malformed_secret_raises_without_leaking(bad: str) -> None:
    with pytest.raises(ValueError, match="webhook secret") as excinfo:
        sign([bad], MSG_ID, _now(), BODY)
    if bad.removeprefix("whsec_"):
        assert bad.removeprefix("whsec_") not in str(excinfo.value)


def test_no_secret_or_bare_secret_raises() -> None:
    with pytest.raises(ValueError, match="at least one"):
        sign([], MSG_ID, _now(), BODY)
    with pytest.raises(TypeError):
        sign(generate_secret(), MSG_ID, _now(), BODY)


def test_secret_never_prints() -> None:
    raw = generate_secret()
    assert raw not in repr(Secret(raw))
    assert raw not in str([Secret(raw)])
