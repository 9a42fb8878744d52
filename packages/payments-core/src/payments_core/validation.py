"""Small input validators shared by wire models."""

import re

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def validate_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("email must be a valid email address")
    return value.lower()
