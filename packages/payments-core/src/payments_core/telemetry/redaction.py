"""Masking what must never reach a log, whichever field or message it hides in: API keys,
webhook secrets and card numbers. The last line of defence, not a substitute for not logging them.
"""

import re

REDACTED = "[REDACTED]"
_SECRET_PATTERNS = (
    re.compile(r"\bsk_(?:test|live)_[A-Za-z0-9]{8,}"),
    re.compile(r"\bwhsec_[A-Za-z0-9+/=]{8,}"),
    re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)"),
)


def redact(value: str) -> str:
    for pattern in _SECRET_PATTERNS:
        value = pattern.sub(REDACTED, value)
    return value
