"""The log redactor masks card numbers and never an id: a payment id must read the same in every
service's lines, or grepping one across the four services finds half of them."""

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments_core.telemetry.redaction import redact

# Ids the redactor used to garble: their digit runs, hyphens included, looked like cards.
# 1283456789016 (across the last three groups) passes Luhn; 424242424242 is a whole group.
GARBLED_BEFORE = (
    "f38b8edd-0272-4d12-8345-6789016a8b90",
    "3f2c9e1a-b7d4-4c8e-a5f0-424242424242",
    "evt_4242424242424242",
    "payment-12345678-1234-4123-8123-123456789012",
    "auth_424242424242424242abcdef",
    "PAY-4242424242424242",
)
CARDS = (
    "4242424242424242",
    "4242 4242 4242 4242",
    "4242-4242-4242-4242",
    "378282246310005",  # Amex, 15 digits
    "3782 822463 10005",  # Amex as printed on the card
    "5060666666666666666",  # Verve, 19 digits
    "506066 6666666666666",
)

# Mostly digits, as the ids that collide with cards are: sampled_from weighs by repetition.
DIGIT_HEAVY_HEX = st.lists(
    st.sampled_from("0123456789" * 4 + "abcdef"), min_size=32, max_size=32
).map("".join)
uuids = st.one_of(
    st.uuids(version=4).map(str),
    st.uuids().map(str),
    DIGIT_HEAVY_HEX.map(lambda digits: str(uuid.UUID(digits))),
)
hex24 = st.one_of(
    st.binary(min_size=12, max_size=12).map(bytes.hex), DIGIT_HEAVY_HEX.map(lambda h: h[:24])
)
ids = st.one_of(
    uuids,
    st.builds("evt_{}".format, uuids.map(lambda text: text.replace("-", ""))),
    st.builds("evt_{}".format, DIGIT_HEAVY_HEX),
    st.builds("{}-{}".format, st.sampled_from(["payment", "refund"]), uuids),
    st.builds("{}_{}".format, st.sampled_from(["auth", "cap", "void", "ref"]), hex24),
    st.builds(
        "PAY-{}".format, st.text("0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=16, max_size=16)
    ),
)


@pytest.mark.parametrize("identifier", GARBLED_BEFORE)
def test_an_id_whose_digits_look_like_a_card_is_left_whole(identifier: str) -> None:
    assert redact(f"correlation_id={identifier}") == f"correlation_id={identifier}"


@given(ids)
def test_no_id_is_ever_masked_in_a_log_line(identifier: str) -> None:
    for line in (
        identifier,
        f"payment {identifier} failed: gateway timeout ({identifier})",
        json.dumps({"payment_id": identifier, "ids": [identifier, identifier]}),
        f"GET /api/v1/payments/{identifier}?expand=refunds",
    ):
        assert redact(line) == line


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize(
    "template",
    [
        "{}",
        "card {} was declined.",
        "{} declined",
        "declined: {}",
        '{{"card": {{"number": "{}", "expMonth": 1}}}}',
        "GET /api/v1/payments/by-reference/{}",
        "cards 4242424242424241 and {}, amount 100000",
    ],
)
def test_card_numbers_are_masked_wherever_they_stand(card: str, template: str) -> None:
    line = template.format(card)
    redacted = redact(line)
    digits = card.replace(" ", "").replace("-", "")
    assert card not in redacted and digits not in redacted
    assert redacted == line.replace(card, "[REDACTED]")


def test_a_card_among_other_numbers_is_masked_and_they_are_not() -> None:
    # Numbers one space apart run together: the card is found inside the run, not lost in it.
    assert redact("card 4242 4242 4242 4242 2031 12") == "card [REDACTED] 2031 12"
    # 18 4242 4242 4242 passes Luhn too: masking only that would leave the card's last group.
    assert redact("item 18 4242 4242 4242 4242") == "item [REDACTED]"


def test_api_keys_and_webhook_secrets_are_still_masked() -> None:
    line = "key=sk_test_abcdefghijklmnop secret:whsec_c2VjcmV0c2VjcmV0"
    assert redact(line) == "key=[REDACTED] secret:[REDACTED]"


def test_a_long_run_of_numbers_is_redacted_in_linear_time() -> None:
    # A pathological line must not stall the logger (the matcher never backtracks into a run).
    line = " ".join(["1111"] * 20_000) + "x"
    assert redact(line) == line
