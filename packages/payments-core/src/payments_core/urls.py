"""URL checks for merchant-supplied URLs (webhooks)."""

from urllib.parse import urlsplit


def validate_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL")
    return value
