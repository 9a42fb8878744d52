"""Payments (CONTRACT.md §1): creation with its outbox event, validation, reads and lists."""

import asyncio
import base64
import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.support import TEST_CARD, MerchantFixture, OnboardMerchant, assert_error

SEED_METADATA = {
    "orderId": "TEST-001",
    "customerName": "John Doe",
    "customerEmail": "john@test.com",
    "description": "Test payment",
}
CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def seed_body(method: dict[str, Any]) -> dict[str, Any]:
    """The original design's curl body, unchanged apart from the payment method id."""
    return {
        "amount": 100000,
        "currency": "NGN",
        "paymentMethodId": method["id"],
        "metadata": SEED_METADATA,
    }


async def counts(engine: AsyncEngine, merchant: MerchantFixture) -> tuple[int, int]:
    """(payments, outbox rows) of the merchant."""
    async with engine.connect() as connection:
        payments = await connection.execute(
            text("SELECT count(*) FROM payments WHERE merchant_id = :m"), {"m": merchant.id}
        )
        events = await connection.execute(
            text("SELECT count(*) FROM outbox WHERE merchant_id = :m"), {"m": merchant.id}
        )
        return int(payments.scalar_one()), int(events.scalar_one())


async def pay(
    client: httpx.AsyncClient, merchant: MerchantFixture, method: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {"amount": 5000, "paymentMethodId": method["id"], **fields}
    response = await client.post("/payments", json=body, headers=merchant.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_seed_curl_body_creates_a_pending_payment(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    response = await client.post(
        "/payments",
        content=json.dumps(seed_body(card_method)),
        headers={**merchant.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"statusCode", "data", "message"}
    assert body["statusCode"] == 201
    assert body["message"] == "Payment initialized successfully"
    data = body["data"]
    assert re.fullmatch(r"PAY-[0-9A-Z]+", data["reference"])
    uuid.UUID(data["id"])
    assert data["status"] == "pending"
    assert (data["amount"], data["currency"]) == (100000, "NGN")
    assert data["paymentMethodId"] == card_method["id"]
    assert data["merchantId"] == merchant.id
    assert data["metadata"] == SEED_METADATA
    assert data["amountRefunded"] == 0
    assert data["failureReason"] is None and data["gatewayReference"] is None
    assert data["completedAt"] is None
    for stamp in (data["createdAt"], data["updatedAt"]):
        assert stamp.endswith("Z")
        datetime.fromisoformat(stamp)
    assert all(CAMEL_CASE.match(key) for key in data), sorted(data)


async def test_payment_initiated_event_is_written_in_the_same_commit(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    response = await client.post("/payments", json=seed_body(card_method), headers=merchant.headers)
    assert response.status_code == 201, response.text
    payment = response.json()["data"]

    query = text(
        "SELECT o.payload, o.event_type, o.merchant_id::text, o.xmin::text = p.xmin::text"
        " FROM outbox o JOIN payments p ON p.id::text = o.payload->'data'->'payment'->>'id'"
        " WHERE o.payload->'data'->'payment'->>'id' = :id"
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query, {"id": payment["id"]})).all()

    assert len(rows) == 1
    payload, event_type, merchant_id, same_transaction = rows[0]
    assert same_transaction, "the event must commit in the payment's own transaction"
    assert (event_type, merchant_id) == ("payment.initiated", merchant.id)
    assert set(payload) == {"id", "type", "timestamp", "merchantId", "data"}
    assert re.fullmatch(r"evt_\w+", payload["id"])
    assert payload["type"] == "payment.initiated"
    assert payload["merchantId"] == merchant.id
    assert payload["timestamp"].endswith("Z")
    assert payload["data"] == {"payment": payment}


async def test_currency_defaults_to_ngn_and_is_uppercased(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    assert (await pay(client, merchant, card_method))["currency"] == "NGN"
    assert (await pay(client, merchant, card_method, currency="usd"))["currency"] == "USD"


@pytest.mark.parametrize("currency", ["NGN", "USD", "EUR", "GBP", "KES", "GHS", "ZAR"])
async def test_every_default_currency_is_supported(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    currency: str,
) -> None:
    assert (await pay(client, merchant, card_method, currency=currency))["currency"] == currency


async def test_snake_case_fields_are_accepted(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    body = {"amount": 2500, "payment_method_id": card_method["id"], "description": "snake"}
    response = await client.post("/payments", json=body, headers=merchant.headers)

    assert response.status_code == 201, response.text
    assert response.json()["data"]["paymentMethodId"] == card_method["id"]


async def test_metadata_numbers_and_booleans_are_kept(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    metadata = {"count": 3, "vip": True, "ratio": 1.5, "note": "x" * 500, "k" * 40: "v"}
    payment = await pay(client, merchant, card_method, metadata=metadata, description="d" * 1000)

    assert payment["metadata"] == metadata
    assert payment["description"] == "d" * 1000


def metadata_with_keys(count: int) -> dict[str, str]:
    return {f"key{i}": "value" for i in range(count)}


# (name, body without paymentMethodId unless noted, expected param, expected code)
BAD_PAYMENTS: list[tuple[str, dict[str, Any], str | None, str | None]] = [
    ("float amount", {"amount": 100.5}, "amount", "parameter_invalid"),
    ("integral float amount", {"amount": 100.0}, "amount", "parameter_invalid"),
    ("zero amount", {"amount": 0}, "amount", "parameter_invalid"),
    ("negative amount", {"amount": -5}, "amount", "parameter_invalid"),
    ("string amount", {"amount": "100"}, "amount", "parameter_invalid"),
    ("boolean amount", {"amount": True}, "amount", "parameter_invalid"),
    ("absurd amount", {"amount": 10**12 + 1}, "amount", "parameter_invalid"),
    ("missing amount", {"amount": None}, "amount", "parameter_missing"),
    ("missing paymentMethodId", {"paymentMethodId": None}, "paymentMethodId",
     "parameter_missing"),
    ("malformed paymentMethodId", {"paymentMethodId": "pm-123"}, "paymentMethodId",
     "parameter_invalid"),
    ("unsupported currency", {"currency": "XXX"}, "currency", None),
    ("two-letter currency", {"currency": "US"}, "currency", "parameter_invalid"),
    ("metadata with 51 keys", {"metadata": metadata_with_keys(51)}, "metadata",
     "parameter_invalid"),
    ("metadata key of 41 chars", {"metadata": {"k" * 41: "v"}}, "metadata", "parameter_invalid"),
    ("metadata value of 501 chars", {"metadata": {"k": "v" * 501}}, "metadata",
     "parameter_invalid"),
    ("nested metadata value", {"metadata": {"k": {"nested": "v"}}}, "metadata",
     "parameter_invalid"),
    ("metadata list value", {"metadata": {"k": ["v"]}}, "metadata", "parameter_invalid"),
    ("metadata not an object", {"metadata": "orderId=1"}, "metadata", "parameter_invalid"),
    ("description of 1001 chars", {"description": "d" * 1001}, "description",
     "parameter_invalid"),
    ("reference of 256 chars", {"reference": "r" * 256}, "reference", "parameter_invalid"),
    ("unknown field", {"customer": "cus_1"}, "customer", "parameter_unknown"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "param", "code"),
    [pytest.param(changes, param, code, id=name) for name, changes, param, code in BAD_PAYMENTS],
)
async def test_invalid_payment_is_400_and_creates_nothing(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
    changes: dict[str, Any],
    param: str | None,
    code: str | None,
) -> None:
    body = {**seed_body(card_method), **changes}
    body = {key: value for key, value in body.items() if value is not None}
    before = await counts(engine, merchant)

    response = await client.post("/payments", json=body, headers=merchant.headers)

    error = assert_error(response, 400, "invalid_request_error", code)["error"]
    assert error["param"] == param
    assert await counts(engine, merchant) == before


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"amount": 100000, "currency": "NGN",', id="not JSON"),
        pytest.param(b"amount=100000&currency=NGN", id="form encoded"),
        pytest.param(b"[]", id="JSON array"),
        pytest.param(b'[{"amount": 100000}]', id="JSON array of an object"),
        pytest.param(b'"amount"', id="JSON string"),
        pytest.param(b"", id="empty body"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_400_and_creates_nothing(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
    content: bytes,
) -> None:
    before = await counts(engine, merchant)

    response = await client.post(
        "/payments",
        content=content,
        headers={**merchant.headers, "Content-Type": "application/json"},
    )

    assert_error(response, 400, "invalid_request_error")
    assert await counts(engine, merchant) == before


@pytest.mark.parametrize(
    ("fragment", "param"),
    [
        pytest.param('"metadata": {"ratio": NaN}', "metadata", id="NaN in metadata"),
        pytest.param('"metadata": {"ratio": Infinity}', "metadata", id="Infinity in metadata"),
        pytest.param('"metadata": {"ratio": 1e400}', "metadata", id="overflowing number"),
        pytest.param('"metadata": {"note": "a\\u0000b"}', "metadata", id="NUL in a value"),
        pytest.param('"metadata": {"a\\u0000b": "v"}', "metadata", id="NUL in a key"),
        pytest.param('"description": "a\\u0000b"', "description", id="NUL in description"),
        pytest.param('"reference": "a\\u0000b"', "reference", id="NUL in reference"),
    ],
)
async def test_values_postgresql_cannot_store_are_400_not_500(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
    fragment: str,
    param: str,
) -> None:
    """Input is validated before it reaches the database: never an internal error."""
    before = await counts(engine, merchant)
    content = f'{{"amount": 100, "paymentMethodId": "{card_method["id"]}", {fragment}}}'

    response = await client.post(
        "/payments",
        content=content,
        headers={**merchant.headers, "Content-Type": "application/json"},
    )

    assert assert_error(response, 400, "invalid_request_error")["error"].get("param") == param
    assert await counts(engine, merchant) == before


async def test_payment_method_of_another_merchant_is_404_and_creates_nothing(
    client: httpx.AsyncClient,
    onboard: OnboardMerchant,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    other = await onboard()

    response = await client.post("/payments", json=seed_body(card_method), headers=other.headers)

    error = assert_error(response, 404, "invalid_request_error", "resource_missing")["error"]
    assert error["param"] == "paymentMethodId"
    assert await counts(engine, other) == (0, 0)


async def test_duplicate_merchant_reference_is_409_and_creates_nothing(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    await pay(client, merchant, card_method, reference="ORDER-42")
    before = await counts(engine, merchant)

    again = await client.post(
        "/payments",
        json={"amount": 1, "paymentMethodId": card_method["id"], "reference": "ORDER-42"},
        headers=merchant.headers,
    )

    error = assert_error(again, 409, again.json()["error"]["type"], "resource_already_exists")
    assert error["error"]["param"] == "reference"
    assert await counts(engine, merchant) == before


async def test_get_by_id_and_by_either_reference(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    payment = await pay(client, merchant, card_method, reference="INV-2026-0001")
    await pay(client, merchant, card_method, reference="INV-2026-0002")

    by_id = await client.get(f"/payments/{payment['id']}", headers=merchant.headers)
    by_system = await client.get(
        f"/payments/reference/{payment['reference']}", headers=merchant.headers
    )
    by_own = await client.get("/payments/reference/INV-2026-0001", headers=merchant.headers)

    for response in (by_id, by_system, by_own):
        assert response.status_code == 200, response.text
        assert response.json()["statusCode"] == 200
        assert response.json()["data"] == payment
    assert payment["merchantReference"] == "INV-2026-0001"
    unknown = await client.get("/payments/reference/PAY-NOSUCHREF", headers=merchant.headers)
    assert_error(unknown, 404, "invalid_request_error", "resource_missing")


@pytest.mark.parametrize("reference", ["a%00b", "%00", "x" * 300])
async def test_a_reference_that_cannot_exist_is_404(
    client: httpx.AsyncClient, merchant: MerchantFixture, reference: str
) -> None:
    response = await client.get(f"/payments/reference/{reference}", headers=merchant.headers)

    assert_error(response, 404, "invalid_request_error", "resource_missing")


@pytest.mark.parametrize("payment_id", ["not-a-uuid", "123", f"{uuid.uuid4()}x", str(uuid.uuid4())])
async def test_malformed_or_unknown_id_in_the_path_is_404(
    client: httpx.AsyncClient, merchant: MerchantFixture, payment_id: str
) -> None:
    response = await client.get(f"/payments/{payment_id}", headers=merchant.headers)

    assert_error(response, 404, "invalid_request_error", "resource_missing")


async def five_payments(
    client: httpx.AsyncClient, merchant: MerchantFixture, method: dict[str, Any]
) -> list[dict[str, Any]]:
    """Five payments, oldest first, a few milliseconds apart."""
    created = []
    for amount in range(1, 6):
        created.append(await pay(client, merchant, method, amount=amount))
        await asyncio.sleep(0.01)
    return created


async def list_ids(
    client: httpx.AsyncClient, merchant: MerchantFixture, **params: Any
) -> list[str]:
    response = await client.get("/payments", params=params, headers=merchant.headers)
    assert response.status_code == 200, response.text
    return [payment["id"] for payment in response.json()["data"]]


async def test_list_is_newest_first(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    created = await five_payments(client, merchant, card_method)

    response = await client.get("/payments", headers=merchant.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["statusCode"] == 200 and body["message"]
    assert [payment["id"] for payment in body["data"]] == [p["id"] for p in reversed(created)]
    assert body["data"][0] == created[-1]
    assert body["pagination"] == {"limit": 50, "hasMore": False, "nextCursor": None}


async def test_list_filters_by_status(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    created = await five_payments(client, merchant, card_method)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE payments SET status = 'failed' WHERE id = :id"), {"id": created[1]["id"]}
        )

    assert await list_ids(client, merchant, status="failed") == [created[1]["id"]]
    pending = [p["id"] for p in reversed(created) if p["id"] != created[1]["id"]]
    assert await list_ids(client, merchant, status="pending") == pending
    assert await list_ids(client, merchant, status="completed") == []
    bogus = await client.get("/payments", params={"status": "paid"}, headers=merchant.headers)
    assert assert_error(bogus, 400, "invalid_request_error")["error"]["param"] == "status"


async def test_list_filters_by_creation_time(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    created = await five_payments(client, merchant, card_method)
    ids = [payment["id"] for payment in created]
    # Midpoints between neighbours, so the bounds do not depend on timestamp precision.
    moments = [datetime.fromisoformat(payment["createdAt"]) for payment in created]
    between = [moments[i] + (moments[i + 1] - moments[i]) / 2 for i in range(4)]

    assert await list_ids(client, merchant, createdFrom=between[1].isoformat()) == ids[:1:-1]
    assert await list_ids(client, merchant, createdTo=between[1].isoformat()) == ids[1::-1]
    assert await list_ids(
        client, merchant, createdFrom=between[0].isoformat(), createdTo=between[2].isoformat()
    ) == [ids[2], ids[1]]
    future = (moments[-1] + timedelta(days=1)).isoformat()
    assert await list_ids(client, merchant, createdFrom=future) == []
    bad = await client.get(
        "/payments", params={"createdFrom": "yesterday"}, headers=merchant.headers
    )
    assert assert_error(bad, 400, "invalid_request_error")["error"]["param"] == "createdFrom"


async def test_created_bounds_equal_to_a_payments_own_created_at_include_it(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    """A merchant filtering with the createdAt the API showed must find that payment."""
    payments = [await pay(client, merchant, card_method) for _ in range(5)]

    for payment in payments:
        stamp = payment["createdAt"]
        found = await list_ids(client, merchant, createdFrom=stamp, createdTo=stamp)
        assert payment["id"] in found, f"createdFrom = createdTo = {stamp} misses the payment"


async def test_cursor_pagination_walks_every_payment_exactly_once(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    created = await five_payments(client, merchant, card_method)
    seen: list[str] = []
    pages = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/payments", params=params, headers=merchant.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [payment["id"] for payment in body["data"]]
        pages.append(body["pagination"])
        cursor = body["pagination"]["nextCursor"]
        if not body["pagination"]["hasMore"]:
            break

    assert seen == [payment["id"] for payment in reversed(created)]
    assert [page["hasMore"] for page in pages] == [True, True, False]
    assert all(page["limit"] == 2 for page in pages)
    assert pages[-1]["nextCursor"] is None
    assert all(isinstance(page["nextCursor"], str) for page in pages[:-1])


async def test_a_page_that_ends_exactly_at_the_last_payment_has_no_more(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    await five_payments(client, merchant, card_method)

    response = await client.get("/payments", params={"limit": 5}, headers=merchant.headers)

    assert len(response.json()["data"]) == 5
    assert response.json()["pagination"] == {"limit": 5, "hasMore": False, "nextCursor": None}


async def test_offset_skips_the_newest(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    created = await five_payments(client, merchant, card_method)
    newest_first = [payment["id"] for payment in reversed(created)]

    assert await list_ids(client, merchant, offset=2, limit=2) == newest_first[2:4]
    assert await list_ids(client, merchant, offset=4) == newest_first[4:]
    assert await list_ids(client, merchant, offset=5) == []


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
async def test_out_of_range_paging_is_400(
    client: httpx.AsyncClient, merchant: MerchantFixture, params: dict[str, Any], param: str
) -> None:
    response = await client.get("/payments", params=params, headers=merchant.headers)

    assert assert_error(response, 400, "invalid_request_error")["error"]["param"] == param


def encoded(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not-a-cursor", id="garbage"),
        pytest.param("%%%", id="not base64"),
        pytest.param(encoded({"createdAt": "2026-01-01T00:00:00+00:00"}), id="an object"),
        pytest.param(encoded(["yesterday", str(uuid.uuid4())]), id="bad timestamp"),
        pytest.param(encoded(["2026-01-01T00:00:00+00:00", "not-a-uuid"]), id="bad id"),
        pytest.param(encoded(["2026-01-01T00:00:00+00:00", 5]), id="numeric id"),
        pytest.param(encoded(["2026-01-01T00:00:00+00:00", [1]]), id="list id"),
        pytest.param("A" * 201, id="too long"),
    ],
)
async def test_an_invalid_cursor_is_400(
    client: httpx.AsyncClient, merchant: MerchantFixture, cursor: str
) -> None:
    response = await client.get("/payments", params={"cursor": cursor}, headers=merchant.headers)

    assert assert_error(response, 400, "invalid_request_error")["error"]["param"] == "cursor"


async def test_a_card_payment_keeps_the_card_out_of_the_payment(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    response = await client.post("/payments", json=seed_body(card_method), headers=merchant.headers)

    assert response.status_code == 201, response.text
    assert TEST_CARD["number"] not in response.text


async def test_created_bounds_must_be_iso_8601_not_unix_numbers(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    for bound in ("createdTo", "createdFrom"):
        response = await client.get("/payments", params={bound: "0.5"}, headers=merchant.headers)
        assert_error(response, 400, "invalid_request_error")
