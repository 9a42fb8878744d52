"""What the API refuses about capture later and authentication before any workflow is involved:
bad captureMethod and returnUrl values, captures of payments that are not authorized, other
merchants' payments (CONTRACT.md §1, "Capture later, customer authentication")."""

from typing import Any

import httpx
import pytest

from tests.api.support import MerchantFixture, OnboardMerchant, assert_error


async def _create(
    client: httpx.AsyncClient, merchant: MerchantFixture, method: dict[str, Any], **extra: Any
) -> httpx.Response:
    return await client.post(
        "/payments",
        json={"amount": 10_000, "paymentMethodId": method["id"], **extra},
        headers=merchant.headers,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("captureMethod", "later"),
        ("returnUrl", "javascript:alert(1)"),
        ("returnUrl", "/relative/path"),
        ("returnUrl", "ftp://shop.example.com/done"),
        ("returnUrl", "https://shop.example.com/a b"),
        ("returnUrl", "https://" + "a" * 2050 + ".example.com"),
    ],
)
async def test_bad_capture_method_or_return_url_is_refused_and_creates_nothing(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    field: str,
    value: str,
) -> None:
    response = await _create(client, merchant, card_method, **{field: value})

    assert_error(response, 400, "invalid_request_error")
    listed = await client.get("/payments", headers=merchant.headers)
    assert listed.json()["data"] == []


async def test_a_manual_payment_shows_its_method_and_expiry(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    response = await _create(
        client,
        merchant,
        card_method,
        capture_method="manual",  # snake_case is accepted too
        returnUrl="https://shop.example.com/done?order=1",
    )

    assert response.status_code == 201, response.text
    payment = response.json()["data"]
    assert (payment["captureMethod"], payment["amountCaptured"]) == ("manual", 0)
    assert payment["authorizationExpiresAt"] > payment["createdAt"]
    assert payment["nextAction"] is None
    automatic = (await _create(client, merchant, card_method)).json()["data"]
    assert (automatic["captureMethod"], automatic["authorizationExpiresAt"]) == (
        "automatic",
        None,
    )


async def test_capturing_a_payment_that_is_not_authorized_is_a_409(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    payment = (await _create(client, merchant, card_method, captureMethod="manual")).json()["data"]

    response = await client.post(f"/payments/{payment['id']}/capture", headers=merchant.headers)

    assert_error(response, 409, "invalid_state_error", "payment_not_authorized")


async def test_bad_capture_bodies_are_400(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    payment = (await _create(client, merchant, card_method, captureMethod="manual")).json()["data"]
    for body in ({"amount": 0}, {"amount": 1.5}, {"amount": "100"}, {"amountt": 1}):
        response = await client.post(
            f"/payments/{payment['id']}/capture", json=body, headers=merchant.headers
        )
        assert_error(response, 400, "invalid_request_error")


async def test_another_merchants_payment_cannot_be_captured(
    client: httpx.AsyncClient,
    onboard: OnboardMerchant,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
) -> None:
    payment = (await _create(client, merchant, card_method, captureMethod="manual")).json()["data"]
    other = await onboard()

    response = await client.post(f"/payments/{payment['id']}/capture", headers=other.headers)

    assert_error(response, 404, "invalid_request_error")
