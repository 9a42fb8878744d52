"""Customer authentication through the public API and the challenge page, the whole pipeline
running (the browser itself drives the page in tests/browser/): the page's single-use token,
its security headers, its 303 to the merchant's returnUrl, and what each answer leads to."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.e2e.support import Merchant, Pipeline

AUTHENTICATION_CARD = "4000002500003155"
RETURN_URL = "https://shop.example.test/checkout/done?order=42"
BROWSER = {"accept": "text/html,application/xhtml+xml"}


async def _challenged(pipeline: Pipeline, merchant: Merchant, **extra: Any) -> dict[str, Any]:
    method_id = await pipeline.add_card(merchant, AUTHENTICATION_CARD)
    response = await pipeline.api.post(
        "/payments",
        json={"amount": 25_000, "paymentMethodId": method_id, **extra},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    payment_id = response.json()["data"]["id"]
    return await pipeline.wait_for_payment(merchant, payment_id, frozenset({"requires_action"}))


def _page_path(payment: dict[str, Any]) -> str:
    """The challenge URL, relative to the API client's /api/v1 base."""
    url: str = payment["nextAction"]["redirectToUrl"]["url"]
    return urlsplit(url).path.removeprefix("/api/v1")


async def test_approving_redirects_to_the_return_url_and_completes(pipeline: Pipeline) -> None:
    merchant = await pipeline.onboard()
    payment = await _challenged(pipeline, merchant, returnUrl=RETURN_URL)
    assert payment["nextAction"]["type"] == "redirect_to_url"
    assert payment["nextAction"]["redirectToUrl"]["returnUrl"] == RETURN_URL
    assert await pipeline.ledger(payment["id"]) == []  # nothing held before the customer answers

    page = await pipeline.api.get(_page_path(payment), headers=BROWSER)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "form-action 'self' https://shop.example.test" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert 'value="approve"' in page.text and "<script" not in page.text

    answer = await pipeline.api.post(
        _page_path(payment),
        content="outcome=approve",
        headers={**BROWSER, "content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert (location.netloc, location.path) == ("shop.example.test", "/checkout/done")
    assert parse_qs(location.query) == {"order": ["42"], "payment_id": [payment["id"]]}

    again = await pipeline.api.post(
        _page_path(payment),
        content="outcome=decline",
        headers={**BROWSER, "content-type": "application/x-www-form-urlencoded"},
    )
    assert again.status_code == 410, again.text  # single use

    final = await pipeline.wait_for_payment(merchant, payment["id"])
    assert final["status"] == "completed"
    assert final["nextAction"] is None
    events = await pipeline.wait_published("payment", payment["id"], count=5)
    assert [event["type"] for event in events] == [
        "payment.initiated",
        "payment.processing",
        "payment.requires_action",
        "payment.processing",
        "payment.completed",
    ]


async def test_declining_fails_the_payment_and_shows_the_outcome_page(pipeline: Pipeline) -> None:
    merchant = await pipeline.onboard()
    payment = await _challenged(pipeline, merchant)  # no returnUrl: the platform's own page

    answer = await pipeline.api.post(
        _page_path(payment),
        content="outcome=decline",
        headers={**BROWSER, "content-type": "application/x-www-form-urlencoded"},
    )

    assert answer.status_code == 200, answer.text
    assert "declined" in answer.text.lower()
    final = await pipeline.wait_for_payment(merchant, payment["id"])
    assert (final["status"], final["failureReason"]) == ("failed", "authentication_failed")
    assert await pipeline.ledger(payment["id"]) == []


async def test_a_challenge_cannot_be_guessed_or_reached_without_its_token(
    pipeline: Pipeline,
) -> None:
    merchant = await pipeline.onboard()
    payment = await _challenged(pipeline, merchant)
    path = _page_path(payment)
    token = path.rsplit("/", 1)[-1]
    tampered = path[: -len(token)] + ("A" if token[0] != "A" else "B") + token[1:]

    for candidate in (tampered, f"/sandbox/challenges/{payment['id']}"):
        refused = await pipeline.api.get(candidate)  # an API client: the contract's JSON error
        assert refused.status_code in (400, 404), refused.text
        assert refused.json()["error"]["type"] == "invalid_request_error"
    bad = await pipeline.api.post(
        path, content="outcome=maybe", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert bad.status_code == 400, bad.text
    # The merchant can cancel while the customer has not answered; the page is closed then.
    cancelled = await pipeline.api.post(
        f"/payments/{payment['id']}/cancel", headers=merchant.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "cancelled"
    closed = await pipeline.api.get(path, headers=BROWSER)
    assert closed.status_code == 410
