"""The sandbox's customer authentication (3-D Secure style) pages: HTML and headers, no I/O.

The challenge page is one form without JavaScript or third-party resources: its two buttons POST
`outcome=approve|decline` to the page's own URL (no action attribute), and the route answers 303
to the merchant's returnUrl. Its CSP allows only the inline style block below, by hash.

Chromium enforces `form-action` on the redirect that follows a form POST, not just on the POST: a
page whose policy does not list the returnUrl's origin never reaches the merchant
(tests/browser/test_challenge_form.py shows both cases).
"""

import base64
import hashlib
import html
import re
from decimal import Decimal
from enum import StrEnum
from urllib.parse import parse_qs, quote, unquote_plus, urlsplit, urlunsplit

PAGE_TITLE = "Confirm your payment"
STYLE = """
body { margin: 0; padding: 0 1rem; background: #f4f5f7; color: #1d2330;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { box-sizing: border-box; max-width: 28rem; margin: 2rem auto; padding: 1.5rem;
  background: #fff; border: 1px solid #dde1e8; border-radius: 0.75rem; }
h1 { margin: 0 0 1rem; font-size: 1.375rem; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 0.25rem 1rem; margin: 0 0 1.5rem; }
dt { color: #5b6475; }
dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
form { display: flex; gap: 0.75rem; }
button { flex: 1; padding: 0.75rem; border-radius: 0.5rem; font: inherit; font-weight: 600;
  cursor: pointer; border: 1px solid #1d4ed8; background: #1d4ed8; color: #fff; }
button[value="decline"] { background: #fff; color: #1d2330; border-color: #9aa3b2; }
.note { margin: 1.5rem 0 0; font-size: 0.875rem; color: #5b6475; }
"""
# CSP source expression of STYLE: the hash is over the exact text between <style> and </style>.
_STYLE_DIGEST = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
STYLE_SOURCE = f"'sha256-{_STYLE_DIGEST}'"
# ISO 4217 minor-unit exponents that are not 2 (NGN, USD, EUR, GBP, KES, GHS, ZAR... are 2).
_EXPONENTS_OTHER_THAN_TWO = {"JPY": 0, "KRW": 0, "UGX": 0, "XAF": 0, "XOF": 0, "KWD": 3, "BHD": 3}
# What may stand as a host in a CSP source: anything else (';', ',', spaces) could add directives.
_PLAIN_HOST = re.compile(r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])$")


class ChallengeOutcome(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"


def format_amount(amount: int, currency: str) -> str:
    """For people, not arithmetic: `150000, "NGN"` -> `NGN 1,500.00`."""
    code = currency.upper()
    exponent = _EXPONENTS_OTHER_THAN_TWO.get(code, 2)
    return f"{code} {Decimal(amount).scaleb(-exponent):,.{exponent}f}"


def render_challenge(
    *, merchant_name: str, amount: int, currency: str, card_last_four: str | None
) -> str:
    card = f"<dt>Card</dt><dd>ending {html.escape(card_last_four)}</dd>" if card_last_four else ""
    return _page(
        PAGE_TITLE,
        f"""<dl>
<dt>Merchant</dt><dd>{html.escape(merchant_name)}</dd>
<dt>Amount</dt><dd>{html.escape(format_amount(amount, currency))}</dd>
{card}
</dl>
<form method="post">
<button type="submit" name="outcome" value="approve">Approve</button>
<button type="submit" name="outcome" value="decline">Decline</button>
</form>
<p class="note">This is the sandbox's test authentication page: no bank is asked, and the
button you choose decides the outcome.</p>""",
    )


def render_outcome(*, title: str, message: str) -> str:
    """After a submission without a returnUrl, and for refused, expired or unknown tokens."""
    return _page(title, f"<p>{html.escape(message)}</p>")


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>{html.escape(title)}</h1>
{body}
</main>
</body>
</html>
"""


def read_outcome(form_body: bytes) -> ChallengeOutcome | None:
    """The button pressed, from the POST's urlencoded body; None when absent or not a button's.

    Parsed here rather than with FastAPI's Form(), which needs python-multipart (not installed).
    """
    values = parse_qs(form_body.decode("utf-8", errors="replace")).get("outcome", [])
    try:
        (value,) = values
        return ChallengeOutcome(value)
    except ValueError:  # none, several, or not a button's value
        return None


def content_security_policy(return_url: str | None) -> str:
    form_action = "'self'" if return_url is None else f"'self' {url_origin(return_url)}"
    return (
        f"default-src 'none'; style-src {STYLE_SOURCE}; form-action {form_action}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def page_headers(return_url: str | None) -> dict[str, str]:
    """Headers of these pages; the edge middleware adds nosniff, no-store and the rest."""
    return {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": content_security_policy(return_url),
    }


def url_origin(url: str) -> str:
    """`scheme://host[:port]` of an http(s) URL, without any user info; ValueError otherwise."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6, which hostname gives without its brackets
    if parts.scheme.lower() not in ("http", "https") or not _PLAIN_HOST.match(host):
        raise ValueError(f"not an http(s) URL with a plain host: {url!r}")
    port = "" if parts.port is None else f":{parts.port}"  # .port raises ValueError if bad
    return f"{parts.scheme.lower()}://{host}{port}"


def redirect_target(return_url: str, payment_id: str) -> str:
    """return_url with `payment_id=<id>` in its query, replacing any payment_id already there.

    The other parameters are kept byte for byte (not decoded and re-encoded), since a merchant may
    sign its return URL's query.
    """
    parts = urlsplit(return_url)
    kept = [
        parameter
        for parameter in parts.query.split("&")
        if parameter and unquote_plus(parameter.partition("=")[0]) != "payment_id"
    ]
    query = "&".join([*kept, f"payment_id={quote(payment_id, safe='')}"])
    return urlunsplit(parts._replace(query=query))
