"""Regressions for what fuzzing the API found: inputs that used to reach PostgreSQL and answer 500.

Each is valid JSON or a well-formed query, so the answer must be the contract's 400, never 500.
"""

import base64
import json
from typing import Any

import httpx
import pytest

from tests.api.support import MerchantFixture, assert_error

ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def cursor(created_at: str, item_id: str) -> str:
    raw = json.dumps([created_at, item_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def raw_json(body: str) -> dict[str, Any]:
    return {"content": body.encode(), "headers": {"Content-Type": "application/json"}}


@pytest.mark.parametrize(
    "field", ['"metadata": {"note": "\\ud800"}', '"metadata": {"\\udfff": "x"}']
)
async def test_unpaired_surrogates_in_metadata_are_400_not_500(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    field: str,
) -> None:
    # JSON may escape a lone surrogate; UTF-8 (and so jsonb) cannot hold it.
    body = f'{{"amount": 100, "paymentMethodId": "{card_method["id"]}", {field}}}'
    kwargs = raw_json(body)
    kwargs["headers"].update(merchant.headers)
    response = await client.post("/payments", **kwargs)
    error = assert_error(response, 400, "invalid_request_error", "parameter_invalid")
    assert error["error"]["param"] == "metadata"


async def test_unpaired_surrogates_in_payment_method_metadata_are_400(
    client: httpx.AsyncClient, merchant: MerchantFixture
) -> None:
    kwargs = raw_json('{"type": "ussd", "metadata": {"k": "\\ud83d"}}')
    kwargs["headers"].update(merchant.headers)
    response = await client.post("/payment-methods", **kwargs)
    assert_error(response, 400, "invalid_request_error", "parameter_invalid")


@pytest.mark.parametrize(
    ("name", "value"),
    [("createdFrom", "0001-01-01T00:00:00+14:00"), ("createdTo", "9999-12-31T23:59:59-14:00")],
)
async def test_dates_outside_the_utc_range_are_400_not_500(
    client: httpx.AsyncClient, merchant: MerchantFixture, name: str, value: str
) -> None:
    response = await client.get("/payments", params={name: value}, headers=merchant.headers)
    error = assert_error(response, 400, "invalid_request_error", "parameter_invalid")
    assert error["error"]["param"] == name


@pytest.mark.parametrize(
    ("path", "token"),
    [
        ("/payments", cursor("0001-01-01T00:00:00+14:00", ZERO_UUID)),
        ("/payments", cursor("9999-12-31T23:59:59-14:00", ZERO_UUID)),
        ("/events", cursor("2026-01-01T00:00:00+00:00", "evt_\u0000")),
        ("/events", cursor("2026-01-01T00:00:00+00:00", "evt_\ud800")),
    ],
)
async def test_forged_cursors_are_400_not_500(
    client: httpx.AsyncClient, merchant: MerchantFixture, path: str, token: str
) -> None:
    response = await client.get(path, params={"cursor": token}, headers=merchant.headers)
    error = assert_error(response, 400, "invalid_request_error", "parameter_invalid")
    assert error["error"]["param"] == "cursor"


async def test_the_document_declares_422_only_where_an_idempotency_key_is_taken(
    client: httpx.AsyncClient,
) -> None:
    # FastAPI's own 422 (HTTPValidationError) is never sent: validation failures are 400.
    document = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in json.dumps(document)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            takes_key = any(
                parameter["name"] == "Idempotency-Key"
                for parameter in operation.get("parameters", [])
            )
            assert ("422" in operation["responses"]) == takes_key, (method, path)
            if takes_key:
                schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorEnvelope")
