"""Payment methods (CONTRACT.md §1): cards tokenized by the sandbox, other shapes, list, delete."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.support import TEST_CARD, MerchantFixture, assert_error

BANK_ACCOUNT = {
    "type": "bank_account",
    "accountNumber": "0123456789",
    "bankCode": "058",
    "bankName": "GTBank",
}


def card(**overrides: Any) -> dict[str, Any]:
    return {"type": "card", "card": {**TEST_CARD, **overrides}}


def keys_anywhere(value: Any) -> set[str]:
    """Every object key in a JSON document, at any depth."""
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys_anywhere(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_anywhere(item)}
    return set()


async def method_rows(engine: AsyncEngine, merchant: MerchantFixture) -> list[str]:
    """Each of the merchant's payment_methods rows, every column, as JSON text."""
    query = text("SELECT row_to_json(t)::text FROM payment_methods t WHERE merchant_id = :merchant")
    async with engine.connect() as connection:
        return list((await connection.execute(query, {"merchant": merchant.id})).scalars())


async def vault_rows(engine: AsyncEngine, merchant: MerchantFixture) -> list[str]:
    """The sandbox vault's rows behind the merchant's tokenized cards, as JSON text."""
    query = text(
        "SELECT row_to_json(v)::text FROM sandbox_vault_cards v"
        " JOIN payment_methods p ON p.gateway_token = v.token WHERE p.merchant_id = :merchant"
    )
    async with engine.connect() as connection:
        return list((await connection.execute(query, {"merchant": merchant.id})).scalars())


async def create(
    client: httpx.AsyncClient, merchant: MerchantFixture, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/payment-methods", json=body, headers=merchant.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_card_is_tokenized_and_number_and_cvc_are_never_returned_or_stored(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    body = card(cvc="987")
    response = await client.post("/payment-methods", json=body, headers=merchant.headers)

    assert response.status_code == 201, response.text
    envelope = response.json()
    assert envelope["statusCode"] == 201 and envelope["message"]
    data = envelope["data"]
    assert data["type"] == "card"
    assert data["brand"] == "visa"
    assert data["lastFour"] == "4242"
    assert (data["expMonth"], data["expYear"]) == (12, 2035)
    assert data["isActive"] is True
    assert data["accountNumber"] is None
    assert TEST_CARD["number"] not in response.text
    assert not {"number", "cvc", "card"} & keys_anywhere(envelope)

    rows = await method_rows(engine, merchant)
    assert len(rows) == 1
    assert TEST_CARD["number"] not in rows[0]
    vaulted = await vault_rows(engine, merchant)
    assert len(vaulted) == 1, "the card must be vaulted by the sandbox under its token"
    assert TEST_CARD["number"] not in vaulted[0]
    for row in (rows[0], vaulted[0]):
        assert '"987"' not in row, "the CVC must never be stored"


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("5060666666666666666", "verve"),
        ("4242 4242 4242 4242", "visa"),
    ],
)
async def test_each_sandbox_success_card_is_accepted_with_its_brand(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    engine: AsyncEngine,
    number: str,
    brand: str,
) -> None:
    data = await create(client, merchant, card(number=number))

    digits = number.replace(" ", "")
    assert data["brand"] == brand
    assert data["lastFour"] == digits[-4:]
    for row in [*await method_rows(engine, merchant), *await vault_rows(engine, merchant)]:
        assert digits not in row


async def test_card_fields_are_accepted_in_snake_case(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    snake = {"number": TEST_CARD["number"], "exp_month": 7, "exp_year": 2033, "cvc": "123"}
    data = await create(client, merchant, {"type": "card", "card": snake})

    assert (data["expMonth"], data["expYear"], data["lastFour"]) == (7, 2033, "4242")


async def test_a_card_valid_through_the_current_month_is_accepted(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    today = datetime.now(UTC)
    data = await create(client, merchant, card(expMonth=today.month, expYear=today.year))

    assert (data["expMonth"], data["expYear"]) == (today.month, today.year)


INVALID_METHODS: list[tuple[str, dict[str, Any], str | None, str | None]] = [
    ("luhn failure", card(number="4242424242424241"), "invalid_number", "card.number"),
    ("expired card", card(expMonth=1, expYear=2020), "expired_card", None),
    ("not a test card", card(number="4111111111111111"), "card_not_test_number", "card.number"),
    ("letters in the number", card(number="4242abcd42424242"), "parameter_invalid", None),
    ("cvc of 2 digits", card(cvc="12"), "parameter_invalid", None),
    ("cvc of 5 digits", card(cvc="12345"), "parameter_invalid", None),
    ("expMonth 13", card(expMonth=13), "parameter_invalid", "card.expMonth"),
    ("expMonth 0", card(expMonth=0), "parameter_invalid", "card.expMonth"),
    ("expMonth as a string", card(expMonth="12"), "parameter_invalid", "card.expMonth"),
    ("number missing", {"type": "card", "card": {"expMonth": 12, "expYear": 2035, "cvc": "1"}},
     "parameter_missing", "card.number"),
    ("card with type wallet", {"type": "wallet", "card": TEST_CARD}, "parameter_invalid", None),
    ("unknown type", {"type": "crypto"}, "parameter_invalid", "type"),
    ("type missing", {"card": TEST_CARD}, "parameter_missing", "type"),
    ("unknown field", {**card(), "fingerprint": "x"}, "parameter_unknown", "fingerprint"),
    ("unknown card field", card(pin="1234"), "parameter_unknown", "card.pin"),
    ("account number with letters", {**BANK_ACCOUNT, "accountNumber": "01234abc"},
     "parameter_invalid", "accountNumber"),
    ("lastFour of 3 digits", {"type": "card", "lastFour": "424"}, "parameter_invalid",
     "lastFour"),
    ("NUL in bankName", {**BANK_ACCOUNT, "bankName": "GT\u0000Bank"}, None, "bankName"),
    ("NUL in metadata", {"type": "ussd", "metadata": {"k": "\u0000"}}, None, "metadata"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [pytest.param(body, code, param, id=name) for name, body, code, param in INVALID_METHODS],
)
async def test_invalid_payment_method_is_400_and_creates_nothing(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    engine: AsyncEngine,
    body: dict[str, Any],
    code: str | None,
    param: str | None,
) -> None:
    before = await method_rows(engine, merchant)

    response = await client.post("/payment-methods", json=body, headers=merchant.headers)

    error = assert_error(response, 400, "invalid_request_error", code)["error"]
    if param is not None:
        assert error["param"] == param
    assert TEST_CARD["number"] not in response.text
    assert await method_rows(engine, merchant) == before
    assert await vault_rows(engine, merchant) == []


async def test_tokenized_bank_account_is_masked_and_the_full_number_is_not_stored(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    response = await client.post("/payment-methods", json=BANK_ACCOUNT, headers=merchant.headers)

    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["type"] == "bank_account"
    assert data["accountNumber"] == "******6789"
    assert (data["bankCode"], data["bankName"]) == ("058", "GTBank")
    assert data["brand"] is None and data["isActive"] is True
    assert "0123456789" not in response.text
    rows = await method_rows(engine, merchant)
    assert len(rows) == 1 and "0123456789" not in rows[0]


async def test_bank_account_fields_are_accepted_in_snake_case(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    body = {
        "type": "bank_account",
        "account_number": "0123456789",
        "bank_code": "058",
        "bank_name": "GTBank",
    }
    data = await create(client, merchant, body)

    assert data["accountNumber"] == "******6789"
    assert (data["bankCode"], data["bankName"]) == ("058", "GTBank")


async def test_original_tokenized_card_shape_is_accepted(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    body = {"type": "card", "provider": "paystack", "lastFour": "4081", "metadata": {"k": "v"}}
    data = await create(client, merchant, body)

    assert (data["type"], data["provider"], data["lastFour"]) == ("card", "paystack", "4081")
    assert data["metadata"] == {"k": "v"}


@pytest.mark.parametrize("method_type", ["bank_transfer", "wallet", "ussd"])
async def test_other_types_are_accepted(
    client: httpx.AsyncClient, merchant: MerchantFixture, method_type: str
) -> None:
    data = await create(client, merchant, {"type": method_type, "provider": "p"})

    assert data["type"] == method_type and data["isActive"] is True


async def test_list_is_newest_first_with_cursor_pagination(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    created = [
        await create(client, merchant, {"type": "ussd", "provider": f"p{i}"}) for i in range(3)
    ]
    newest_first = [method["id"] for method in reversed(created)]

    first = await client.get("/payment-methods", params={"limit": 2}, headers=merchant.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["statusCode"] == 200 and body["message"]
    assert [method["id"] for method in body["data"]] == newest_first[:2]
    assert body["pagination"]["limit"] == 2
    assert body["pagination"]["hasMore"] is True
    assert isinstance(body["pagination"]["nextCursor"], str)

    second = await client.get(
        "/payment-methods",
        params={"limit": 2, "cursor": body["pagination"]["nextCursor"]},
        headers=merchant.headers,
    )
    assert second.status_code == 200, second.text
    assert [method["id"] for method in second.json()["data"]] == newest_first[2:]
    assert second.json()["pagination"] == {"limit": 2, "hasMore": False, "nextCursor": None}

    everything = await client.get("/payment-methods", headers=merchant.headers)
    assert [method["id"] for method in everything.json()["data"]] == newest_first
    assert everything.json()["pagination"] == {"limit": 50, "hasMore": False, "nextCursor": None}


async def test_get_returns_the_method_and_a_malformed_id_is_404(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    response = await client.get(f"/payment-methods/{card_method['id']}", headers=merchant.headers)

    assert response.status_code == 200, response.text
    assert response.json()["data"] == card_method
    missing = await client.get("/payment-methods/not-a-uuid", headers=merchant.headers)
    assert_error(missing, 404, "invalid_request_error", "resource_missing")


async def test_delete_deactivates_and_an_inactive_method_cannot_pay(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    path = f"/payment-methods/{card_method['id']}"

    deleted = await client.delete(path, headers=merchant.headers)

    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["data"]["id"] == card_method["id"]
    assert deleted.json()["data"]["isActive"] is False
    assert (await client.get(path, headers=merchant.headers)).json()["data"]["isActive"] is False
    payment = await client.post(
        "/payments",
        json={"amount": 1000, "paymentMethodId": card_method["id"]},
        headers=merchant.headers,
    )
    error = assert_error(payment, 400, "invalid_request_error", "payment_method_inactive")
    assert error["error"]["param"] == "paymentMethodId"
    async with engine.connect() as connection:
        query = text("SELECT count(*) FROM payments WHERE merchant_id = :merchant")
        assert (await connection.execute(query, {"merchant": merchant.id})).scalar_one() == 0
