"""The challenge page's HTML, CSP and redirect, as pure functions (tests/browser runs them)."""

import base64
import hashlib
import re

import pytest

from payments_api.challenge_page import (
    ChallengeOutcome,
    content_security_policy,
    format_amount,
    page_headers,
    read_outcome,
    redirect_target,
    render_challenge,
    render_outcome,
    url_origin,
)


def _challenge(
    *,
    merchant_name: str = "Ada's Books",
    currency: str = "NGN",
    card_last_four: str | None = "4242",
) -> str:
    return render_challenge(
        merchant_name=merchant_name, amount=150000, currency=currency, card_last_four=card_last_four
    )


def _directives(policy: str) -> dict[str, list[str]]:
    parsed = (directive.split() for directive in policy.split(";"))
    return {name: sources for name, *sources in parsed}


def test_the_page_shows_merchant_amount_and_card() -> None:
    page = _challenge()

    assert page.startswith('<!doctype html>\n<html lang="en">')
    assert '<meta charset="utf-8">' in page
    assert '<meta name="viewport"' in page
    assert "<title>Confirm your payment</title>" in page
    assert "Ada&#x27;s Books" in page
    assert "NGN 1,500.00" in page
    assert "ending 4242" in page
    assert "test authentication page" in page


def test_the_card_is_left_out_when_unknown() -> None:
    assert "ending" not in _challenge(card_last_four=None)


def test_one_form_posts_to_its_own_url_with_two_buttons() -> None:
    page = _challenge()

    assert re.findall(r"<form[^>]*>", page) == ['<form method="post">']
    assert '<button type="submit" name="outcome" value="approve">Approve</button>' in page
    assert '<button type="submit" name="outcome" value="decline">Decline</button>' in page


def test_nothing_is_loaded_or_run() -> None:
    page = _challenge()

    assert "<script" not in page
    assert not re.search(r"\b(src|href)=", page)


EVIL = "<script>alert(1)</script>"


@pytest.mark.parametrize(
    "page",
    [_challenge(merchant_name=EVIL), _challenge(currency=EVIL), _challenge(card_last_four=EVIL)],
    ids=["merchant_name", "currency", "card_last_four"],
)
def test_interpolated_text_is_escaped(page: str) -> None:
    assert "<script>" not in page.lower()
    assert "&lt;script&gt;" in page.lower()


def test_the_outcome_page_escapes_title_and_message() -> None:
    page = render_outcome(title="<b>Done</b>", message="<img src=x>")

    assert "<title>&lt;b&gt;Done&lt;/b&gt;</title>" in page
    assert "<p>&lt;img src=x&gt;</p>" in page
    assert "<form" not in page


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (150000, "NGN", "NGN 1,500.00"),
        (500, "JPY", "JPY 500"),
        (5, "usd", "USD 0.05"),
        (123456789, "KES", "KES 1,234,567.89"),
        (0, "GBP", "GBP 0.00"),
        (1234, "KWD", "KWD 1.234"),
    ],
)
def test_amounts_are_formatted_from_minor_units(amount: int, currency: str, shown: str) -> None:
    assert format_amount(amount, currency) == shown


@pytest.mark.parametrize("page", [_challenge(), render_outcome(title="Done", message="Thanks")])
def test_the_policy_allows_the_pages_style_block_by_its_hash(page: str) -> None:
    (style,) = re.findall(r"<style>(.*?)</style>", page, flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()

    assert _directives(content_security_policy(None))["style-src"] == [f"'sha256-{digest}'"]


def test_the_policy_denies_everything_else() -> None:
    directives = _directives(content_security_policy(None))

    assert directives["default-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]


@pytest.mark.parametrize(
    ("return_url", "origin"),
    [
        ("https://shop.example/back?order=7#top", "https://shop.example"),
        ("https://user:secret@Shop.Example:8443/back", "https://shop.example:8443"),
        ("http://127.0.0.1:5173/done", "http://127.0.0.1:5173"),
        ("https://[::1]:9000/x", "https://[::1]:9000"),
    ],
)
def test_form_action_adds_exactly_the_return_origin(return_url: str, origin: str) -> None:
    assert _directives(content_security_policy(return_url))["form-action"] == ["'self'", origin]


@pytest.mark.parametrize(
    "return_url",
    [
        "javascript:alert(1)",
        "ftp://shop.example/",
        "https://shop.example;script-src *",
        "https://shop example/",
        "https://shop.example:99999/",
        "/relative/path",
    ],
)
def test_a_return_url_that_is_no_plain_web_origin_is_refused(return_url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case fails in its own place
        url_origin(return_url)


@pytest.mark.parametrize(
    ("return_url", "target"),
    [
        ("https://shop.example/back", "https://shop.example/back?payment_id=pay_1"),
        (
            "https://shop.example/back?order=7&note=a%20b+c#receipt",
            "https://shop.example/back?order=7&note=a%20b+c&payment_id=pay_1#receipt",
        ),
        (
            "https://shop.example/back?payment_id=old&order=7&payment%5Fid=older",
            "https://shop.example/back?order=7&payment_id=pay_1",
        ),
        ("https://shop.example/back?", "https://shop.example/back?payment_id=pay_1"),
    ],
)
def test_the_redirect_carries_the_payment_id(return_url: str, target: str) -> None:
    assert redirect_target(return_url, "pay_1") == target


def test_the_payment_id_is_url_encoded() -> None:
    assert (
        redirect_target("https://s.example/", "a&b=c") == "https://s.example/?payment_id=a%26b%3Dc"
    )


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        (b"outcome=approve", ChallengeOutcome.APPROVE),
        (b"outcome=decline", ChallengeOutcome.DECLINE),
        (b"outcome=maybe", None),
        (b"", None),
        (b"outcome=approve&outcome=decline", None),
        (b"\xff\xfe", None),
    ],
)
def test_the_outcome_is_read_from_the_form_body(
    body: bytes, outcome: ChallengeOutcome | None
) -> None:
    assert read_outcome(body) == outcome


def test_the_headers_declare_html_and_the_policy() -> None:
    headers = page_headers("https://shop.example/back")

    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-security-policy"] == content_security_policy(
        "https://shop.example/back"
    )
