"""Masking what must never reach a log, whichever field or message it hides in: API keys,
webhook secrets and card numbers. The last line of defence, not a substitute for not logging them.

A card number is masked only where it stands as a token of its own: 12 to 19 digits, in groups
joined by single spaces or dashes, passing Luhn, with nothing of a word (a letter, a digit, `_` or
`-`) glued to either end. Ids are hex and digits joined by dashes and underscores (uuids,
`evt_…`, `payment-<uuid>`, `auth_…`, `PAY-…`): a run of digits inside one is part of the id and
stays, so that grepping a payment id finds it in every service's lines. The price is that a card
glued to a word (`card4242…`) is not masked.
"""

import re

from payments_core.gateway.cards import luhn_valid

REDACTED = "[REDACTED]"
CARD_DIGITS = range(12, 20)

_KEY_PATTERNS = (
    re.compile(r"\bsk_(?:test|live)_[A-Za-z0-9]{8,}"),
    re.compile(r"\bwhsec_[A-Za-z0-9+/=]{8,}"),
)
# One token of digit groups joined by dashes. Possessive, so that a token glued to a word at its
# end is given up at once instead of backtracked through (a long line of numbers stays linear).
_NUMBER = r"[0-9]++(?:-[0-9]++)*+(?![\w-])"
# Such tokens one space apart: a card printed in groups spans several, among other numbers maybe.
_NUMBERS = re.compile(rf"(?<![\w-]){_NUMBER}(?: {_NUMBER})*+")


def redact(value: str) -> str:
    for pattern in _KEY_PATTERNS:
        value = pattern.sub(REDACTED, value)
    return _NUMBERS.sub(_mask_cards, value)


def _mask_cards(numbers: re.Match[str]) -> str:
    """The run of numbers with every stretch of whole tokens that reads as a card masked."""
    tokens = numbers.group().split(" ")
    masked = _card_tokens([token.replace("-", "") for token in tokens])
    kept: list[str] = []
    for index, token in enumerate(tokens):
        if index not in masked:
            kept.append(token)
        elif index - 1 not in masked:
            kept.append(REDACTED)  # neighbouring masked tokens read as one card
    return " ".join(kept)


def _card_tokens(digits: list[str]) -> set[int]:
    """Which tokens belong to a card: every stretch of them that passes, not just the first one,
    so that a number before a card cannot hide part of it."""
    masked: set[int] = set()
    for start in range(len(digits)):
        number = ""
        for end in range(start, len(digits)):
            number += digits[end]
            if len(number) > CARD_DIGITS.stop - 1:
                break
            if len(number) in CARD_DIGITS and luhn_valid(number):
                masked.update(range(start, end + 1))
    return masked
