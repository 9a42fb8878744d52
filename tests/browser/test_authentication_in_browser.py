"""Customer authentication with a real Chromium and the whole pipeline running: the merchant
creates the payment over HTTP, the customer's browser follows `nextAction.redirectToUrl.url` to
the API listening on a real port, answers the challenge page, and lands back on the merchant's
site (a local site on another origin) while the workflow finishes the payment.
"""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from payments_core.db.engine import create_engine, create_session_factory
from payments_devstack.moto_server import MotoServer
from tests.browser.local_sites import LocalSite
from tests.browser.support import policy_violations
from tests.e2e.support import Merchant, Pipeline, running_pipeline

AUTHENTICATION_CARD = "4000002500003155"
RETURN_PATH = "/orders/42/done?order=42"
CLOSED = "This authentication was already answered or has expired."


@pytest.fixture
async def pipeline(
    database_url: str, moto_server: MotoServer, temporal_address: str
) -> AsyncIterator[Pipeline]:
    """The e2e pipeline, its API also on a free TCP port that the challenge URLs point at."""
    engine = create_engine(database_url, pool_size=5)
    try:
        async with running_pipeline(
            database_url,
            moto_server,
            temporal_address,
            create_session_factory(engine),
            serve_over_tcp=True,
        ) as running:
            yield running
    finally:
        await engine.dispose()


async def _challenged(pipeline: Pipeline, merchant: Merchant, return_url: str) -> dict[str, Any]:
    """A card payment that asks for authentication, once it waits at requires_action."""
    method_id = await pipeline.add_card(merchant, AUTHENTICATION_CARD)
    response = await pipeline.api.post(
        "/payments",
        json={
            "amount": 25_000,
            "currency": "NGN",
            "paymentMethodId": method_id,
            "returnUrl": return_url,
        },
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    payment_id = response.json()["data"]["id"]
    payment = await pipeline.wait_for_payment(merchant, payment_id, frozenset({"requires_action"}))
    redirect = payment["nextAction"]["redirectToUrl"]
    assert redirect["returnUrl"] == return_url
    assert redirect["url"].startswith(f"{pipeline.public_base_url}/api/v1/sandbox/challenges/")
    return payment


async def _answer_in_browser(
    page: Page, payment: dict[str, Any], merchant_site: LocalSite, button: str
) -> None:
    """Press `button` on the payment's challenge page; back on the merchant's site then."""
    await page.goto(payment["nextAction"]["redirectToUrl"]["url"])
    await page.get_by_role("button", name=button).click()
    await page.wait_for_url(merchant_site.url(f"{RETURN_PATH}&payment_id={payment['id']}"))
    await expect(page.get_by_role("heading")).to_have_text("Thank you")
    # Chromium may also ask the merchant's site for /favicon.ico, after the page.
    assert merchant_site.requests[0].path == f"{RETURN_PATH}&payment_id={payment['id']}"


async def test_approving_in_the_browser_completes_the_payment(
    pipeline: Pipeline, page: Page, merchant_site: LocalSite, browser_artifacts: Path
) -> None:
    merchant = await pipeline.onboard()
    payment = await _challenged(pipeline, merchant, merchant_site.url(RETURN_PATH))
    violations = policy_violations(page)

    shown = await page.goto(payment["nextAction"]["redirectToUrl"]["url"])
    assert shown is not None and shown.status == 200
    await page.screenshot(path=browser_artifacts / "challenge-page-live.png", full_page=True)
    await expect(page).to_have_title("Confirm your payment")
    await expect(page.locator("main")).to_contain_text("E2E Merchant")
    await expect(page.locator("main")).to_contain_text("NGN 250.00")
    await expect(page.locator("main")).to_contain_text("ending 3155")
    await _answer_in_browser(page, payment, merchant_site, "Approve")

    final = await pipeline.wait_for_payment(merchant, payment["id"])
    assert (final["status"], final["nextAction"]) == ("completed", None)
    assert await pipeline.ledger(payment["id"]) == [
        ("authorize", "approved"),
        ("capture", "approved"),
    ]
    assert violations == []


async def test_declining_in_the_browser_fails_the_payment(
    pipeline: Pipeline, page: Page, merchant_site: LocalSite
) -> None:
    merchant = await pipeline.onboard()
    payment = await _challenged(pipeline, merchant, merchant_site.url(RETURN_PATH))
    violations = policy_violations(page)

    await _answer_in_browser(page, payment, merchant_site, "Decline")

    final = await pipeline.wait_for_payment(merchant, payment["id"])
    assert (final["status"], final["failureReason"]) == ("failed", "authentication_failed")
    assert await pipeline.ledger(payment["id"]) == []
    assert violations == []


async def test_an_answered_challenge_shows_the_closed_page_without_a_form(
    pipeline: Pipeline, page: Page, merchant_site: LocalSite, browser_artifacts: Path
) -> None:
    merchant = await pipeline.onboard()
    payment = await _challenged(pipeline, merchant, merchant_site.url(RETURN_PATH))
    await _answer_in_browser(page, payment, merchant_site, "Decline")
    violations = policy_violations(page)

    again = await page.goto(payment["nextAction"]["redirectToUrl"]["url"])

    assert again is not None and again.status == 410
    await page.screenshot(path=browser_artifacts / "challenge-closed-live.png", full_page=True)
    await expect(page.get_by_role("heading")).to_have_text("Authentication unavailable")
    await expect(page.locator("main")).to_contain_text(CLOSED)
    await expect(page.locator("form")).to_have_count(0)
    await expect(page.get_by_role("button")).to_have_count(0)
    assert violations == []
