"""Card checks done before a number leaves our process."""

from datetime import UTC, datetime

import pytest

from payments_core.gateway.cards import card_brand, is_expired, luhn_valid
from payments_core.gateway.test_cards import TEST_CARDS


@pytest.mark.parametrize("number", sorted(TEST_CARDS))
def test_every_sandbox_test_card_passes_luhn(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize(
    "number", ["4242424242424241", "1234567812345678", "42424242", "4242a24242424242", ""]
)
def test_invalid_numbers_fail_luhn(number: str) -> None:
    assert not luhn_valid(number)


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("5060666666666666666", "verve"),
        ("378282246310005", "amex"),
    ],
)
def test_brand_detection(number: str, brand: str) -> None:
    assert card_brand(number) == brand


def test_a_card_is_valid_through_its_expiry_month() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    assert not is_expired(11, 2026, now)
    assert is_expired(10, 2026, now)
    assert is_expired(12, 2025, now)
    assert not is_expired(1, 2027, now)
