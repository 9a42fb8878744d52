"""The challenge page in a real Chromium, served the way the API route will serve it.

Two local sites, two origins: the challenge page (GET renders it under its CSP, POST answers 303
to the returnUrl with the payment id) and the merchant's site the returnUrl points at. No
database: this looks at challenge_page.py as a customer's browser does.
"""

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from payments_api.challenge_page import (
    page_headers,
    read_outcome,
    redirect_target,
    render_challenge,
    render_outcome,
)
from tests.browser.local_sites import LocalSite, Reply, Request
from tests.browser.support import policy_violations

PAYMENT_ID = "pay-123"
CHALLENGE_PATH = "/v1/authentication/tok_single_use"
# The approve button's background in challenge_page.STYLE: proof the hashed style block applied.
APPROVE_BLUE = "rgb(29, 78, 216)"


def challenge_site(return_url: str, *, policy_return_url: str | None) -> LocalSite:
    """The page and its POST; the CSP lists `policy_return_url`'s origin (None: only 'self')."""
    headers = page_headers(policy_return_url)

    def answer(request: Request) -> Reply:
        if request.method == "GET":
            page = render_challenge(
                merchant_name="Ada's Books <Lagos>",
                amount=150000,
                currency="NGN",
                card_last_four="4242",
            )
            return Reply(200, headers, page)
        if read_outcome(request.body) is None:
            return Reply(400, headers, render_outcome(title="Not understood", message="Retry."))
        return Reply(303, {**headers, "location": redirect_target(return_url, PAYMENT_ID)})

    return LocalSite(answer)


async def test_the_page_renders_under_its_own_policy(
    page: Page, merchant_site: LocalSite, browser_artifacts: Path
) -> None:
    return_url = merchant_site.url("/orders/7/done")
    with challenge_site(return_url, policy_return_url=return_url) as challenge:
        violations = policy_violations(page)
        await page.goto(challenge.url(CHALLENGE_PATH))
        await page.screenshot(path=browser_artifacts / "challenge-page.png", full_page=True)

        await expect(page).to_have_title("Confirm your payment")
        await expect(page.get_by_role("heading")).to_have_text("Confirm your payment")
        await expect(page.locator("main")).to_contain_text("Ada's Books <Lagos>")
        await expect(page.locator("main")).to_contain_text("NGN 1,500.00")
        await expect(page.locator("main")).to_contain_text("ending 4242")
        approve = page.get_by_role("button", name="Approve")
        await expect(approve).to_have_css("background-color", APPROVE_BLUE)
        assert violations == []


@pytest.mark.parametrize("outcome", ["approve", "decline"])
async def test_each_button_lands_on_the_return_url_with_the_payment_id(
    page: Page, merchant_site: LocalSite, outcome: str
) -> None:
    return_url = merchant_site.url("/orders/7/done?order=7#receipt")
    with challenge_site(return_url, policy_return_url=return_url) as challenge:
        violations = policy_violations(page)
        await page.goto(challenge.url(CHALLENGE_PATH))

        await page.get_by_role("button", name=outcome.capitalize()).click()
        await page.wait_for_url(
            merchant_site.url("/orders/7/done?order=7&payment_id=pay-123#receipt")
        )

    posted = [request for request in challenge.requests if request.method == "POST"]
    assert [(request.path, request.body) for request in posted] == [
        (CHALLENGE_PATH, f"outcome={outcome}".encode())
    ]
    # Chromium also asks the merchant's site for /favicon.ico, after the page.
    assert merchant_site.requests[0].path == "/orders/7/done?order=7&payment_id=pay-123"
    await expect(page.get_by_role("heading")).to_have_text("Thank you")
    assert violations == []


async def test_without_the_return_origin_in_form_action_chromium_blocks_the_redirect(
    page: Page, merchant_site: LocalSite, browser_artifacts: Path
) -> None:
    """Why content_security_policy() lists the returnUrl's origin: Chromium checks form-action
    on the 303 that follows the POST too. The outcome is recorded, the customer never returns."""
    return_url = merchant_site.url("/orders/7/done")
    with challenge_site(return_url, policy_return_url=None) as challenge:
        await page.goto(challenge.url(CHALLENGE_PATH))

        async with page.expect_console_message(lambda m: "form-action" in m.text) as blocked:
            await page.get_by_role("button", name="Approve").click()
        await page.screenshot(path=browser_artifacts / "challenge-redirect-blocked.png")

    # Chromium's report names the URL the form was sent to, not the redirect that it refused.
    assert challenge.url(CHALLENGE_PATH) in (await blocked.value).text
    assert [request.body for request in challenge.requests if request.method == "POST"] == [
        b"outcome=approve"
    ]
    assert merchant_site.requests == []
    assert page.url == challenge.url(CHALLENGE_PATH)
