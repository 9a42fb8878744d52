"""Card number checks done before anything leaves our process: Luhn, brand, expiry."""

from datetime import UTC, datetime


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    if number.startswith(("506", "507", "650")) and len(number) in (16, 18, 19):
        return "verve"
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "unknown"


def is_expired(exp_month: int, exp_year: int, now: datetime | None = None) -> bool:
    """A card is valid through the last day of its expiry month."""
    today = now or datetime.now(UTC)
    return (exp_year, exp_month) < (today.year, today.month)
