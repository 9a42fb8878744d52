"""Metadata rules of the contract: ≤ 50 keys, keys ≤ 40 characters, scalar values ≤ 500."""

import math
from typing import Any

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500


def validate_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """Return the metadata unchanged or raise ValueError with a message a merchant can act on."""
    if len(value) > MAX_KEYS:
        raise ValueError(f"metadata can have at most {MAX_KEYS} keys")
    for key, item in value.items():
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"metadata keys must be 1 to {MAX_KEY_LENGTH} characters")
        if isinstance(item, str):
            if len(item) > MAX_VALUE_LENGTH:
                raise ValueError(f"metadata values must be at most {MAX_VALUE_LENGTH} characters")
        elif not isinstance(item, int | float | bool):
            raise ValueError("metadata values must be strings, numbers or booleans")
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("metadata numbers must be finite")
    return value
