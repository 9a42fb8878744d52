"""The events API: the merchant's event log newest first, one event with its deliveries and
attempts, and redelivery; another merchant's event answers like a missing one."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_core.events.envelope import EventType
from tests.api.support import MerchantFixture, OnboardMerchant, assert_error
from tests.api.webhook_support import (
    OTHER_PUBLIC_URL,
    add_events,
    create_endpoint,
    delivery_row,
    enqueue,
    finish_delivery,
)

T = EventType


async def list_all(
    client: httpx.AsyncClient, merchant: MerchantFixture, **params: Any
) -> list[dict[str, Any]]:
    """Every page, two at a time, following nextCursor."""
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 2, **params}
    while True:
        response = await client.get("/events", params=query, headers=merchant.headers)
        assert response.status_code == 200, response.text
        items += response.json()["data"]
        pagination = response.json()["pagination"]
        if not pagination["hasMore"]:
            assert pagination["nextCursor"] is None
            return items
        query["cursor"] = pagination["nextCursor"]


async def redeliver(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    event_id: str,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    return await client.post(f"/events/{event_id}/redeliver", json=body, headers=merchant.headers)


async def test_events_are_listed_newest_first_across_pages(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    types = [
        T.PAYMENT_INITIATED,
        T.PAYMENT_PROCESSING,
        T.PAYMENT_COMPLETED,
        T.REFUND_CREATED,
        T.REFUND_SUCCEEDED,
    ]
    ids = await add_events(engine, merchant, types)

    listed = await list_all(client, merchant)

    assert [event["id"] for event in listed] == ids[::-1]
    newest = listed[0]
    assert newest == {
        "id": ids[-1],
        "type": "refund.succeeded",
        "timestamp": newest["timestamp"],
        "merchantId": merchant.id,
        "data": {"payment": {"id": newest["data"]["payment"]["id"], "amount": 1004}},
    }
    assert newest["timestamp"].endswith("Z")
    offset = await client.get("/events", params={"offset": 3}, headers=merchant.headers)
    assert [event["id"] for event in offset.json()["data"]] == [ids[1], ids[0]]


async def test_the_type_filter_keeps_its_own_pagination(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    types = [T.PAYMENT_INITIATED, T.PAYMENT_FAILED, T.PAYMENT_INITIATED, T.PAYMENT_INITIATED]
    ids = await add_events(engine, merchant, types)

    initiated = await list_all(client, merchant, type="payment.initiated")
    failed = await list_all(client, merchant, type="payment.failed")
    cancelled = await list_all(client, merchant, type="payment.cancelled")

    assert [event["id"] for event in initiated] == [ids[3], ids[2], ids[0]]
    assert [event["id"] for event in failed] == [ids[1]]
    assert cancelled == []


@pytest.mark.parametrize("event_type", ["payment.exploded", "PAYMENT.COMPLETED", "*", ""])
async def test_an_unknown_type_filter_is_400(
    client: httpx.AsyncClient, merchant: MerchantFixture, event_type: str
) -> None:
    response = await client.get("/events", params={"type": event_type}, headers=merchant.headers)
    assert assert_error(response, 400, "invalid_request_error")["error"]["param"] == "type"


async def test_a_payment_created_through_the_api_is_an_event(
    client: httpx.AsyncClient, merchant: MerchantFixture, card_method: dict[str, Any]
) -> None:
    created = await client.post(
        "/payments",
        json={"amount": 2500, "paymentMethodId": card_method["id"]},
        headers=merchant.headers,
    )
    assert created.status_code == 201, created.text

    listed = await client.get(
        "/events", params={"type": "payment.initiated"}, headers=merchant.headers
    )

    [event] = listed.json()["data"]
    assert event["id"].startswith("evt_") and event["merchantId"] == merchant.id
    assert event["data"]["payment"]["id"] == created.json()["data"]["id"]
    one = await client.get(f"/events/{event['id']}", headers=merchant.headers)
    assert one.json()["data"] == {**event, "deliveries": []}


async def test_one_event_shows_its_deliveries_and_every_attempt(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    every = await create_endpoint(client, merchant)
    await create_endpoint(client, merchant, url=OTHER_PUBLIC_URL, enabledEvents=["refund.failed"])
    [event_id] = await add_events(engine, merchant, [T.PAYMENT_COMPLETED])
    assert await enqueue(engine, event_id) == 1, "only the endpoint taking every event matches"
    delivery_id = await finish_delivery(engine, event_id, every["id"], [500, None, 204])

    response = await client.get(f"/events/{event_id}", headers=merchant.headers)

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["id"], data["type"], data["merchantId"]) == (
        event_id,
        "payment.completed",
        merchant.id,
    )
    [delivery] = data["deliveries"]
    attempts = delivery.pop("attempts")
    assert delivery == {
        "id": delivery_id,
        "endpointId": every["id"],
        "url": every["url"],
        "status": "succeeded",
        "attemptCount": 3,
        "nextAttemptAt": None,
        "lastStatusCode": 204,
        "lastError": None,
        "createdAt": delivery["createdAt"],
        "completedAt": delivery["completedAt"],
    }
    assert delivery["completedAt"].endswith("Z")
    assert [(a["attemptNumber"], a["statusCode"], a["durationMs"]) for a in attempts] == [
        (1, 500, 10),
        (2, None, 20),
        (3, 204, 30),
    ]
    assert attempts[1]["error"].startswith("timeout")
    assert attempts[0]["error"] is None and attempts[0]["createdAt"].endswith("Z")


async def test_redelivery_queues_every_matching_endpoint_again(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    first = await create_endpoint(client, merchant)
    second = await create_endpoint(client, merchant, enabledEvents=["payment.failed"])
    [event_id] = await add_events(engine, merchant, [T.PAYMENT_FAILED])
    assert await enqueue(engine, event_id) == 2
    first_delivery = await finish_delivery(engine, event_id, first["id"], [200])
    second_delivery = await finish_delivery(engine, event_id, second["id"], [500, 500])
    # Registered after the event: redelivery reaches it too, since it takes the event's type.
    late = await create_endpoint(client, merchant, url=OTHER_PUBLIC_URL)

    response = await redeliver(client, merchant, event_id)

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["statusCode"] == 202 and body["message"]
    assert body["data"]["eventId"] == event_id
    queued = {delivery["endpointId"]: delivery for delivery in body["data"]["deliveries"]}
    assert set(queued) == {first["id"], second["id"], late["id"]}
    for delivery in queued.values():
        assert delivery["status"] == "pending" and delivery["completedAt"] is None
        assert delivery["nextAttemptAt"] is not None
    assert [a["statusCode"] for a in queued[second["id"]]["attempts"]] == [500, 500]
    assert queued[late["id"]]["attempts"] == []
    for delivery_id in (first_delivery, second_delivery, queued[late["id"]]["id"]):
        row = await delivery_row(engine, delivery_id)
        assert row["status"] == "pending" and row["due"] is True
        assert row["retries_used"] == 0 and row["completed_at"] is None
    assert (await delivery_row(engine, second_delivery))["attempt_count"] == 2, "history stays"


async def test_redelivery_to_one_named_endpoint_leaves_the_others_alone(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    named = await create_endpoint(client, merchant)
    other = await create_endpoint(client, merchant, url=OTHER_PUBLIC_URL)
    [event_id] = await add_events(engine, merchant, [T.PAYMENT_COMPLETED])
    await enqueue(engine, event_id)
    named_delivery = await finish_delivery(engine, event_id, named["id"], [410])
    other_delivery = await finish_delivery(engine, event_id, other["id"], [200])

    response = await redeliver(client, merchant, event_id, {"endpointId": named["id"]})

    assert response.status_code == 202, response.text
    [queued] = response.json()["data"]["deliveries"]
    assert (queued["id"], queued["endpointId"]) == (named_delivery, named["id"])
    assert (await delivery_row(engine, named_delivery))["status"] == "pending"
    assert (await delivery_row(engine, other_delivery))["status"] == "succeeded"


async def test_a_disabled_endpoint_is_skipped_and_naming_it_is_409(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    enabled = await create_endpoint(client, merchant)
    disabled = await create_endpoint(client, merchant, url=OTHER_PUBLIC_URL)
    [event_id] = await add_events(engine, merchant, [T.PAYMENT_COMPLETED])
    await enqueue(engine, event_id)
    disabled_delivery = await finish_delivery(engine, event_id, disabled["id"], [500])
    patched = await client.patch(
        f"/webhook-endpoints/{disabled['id']}", json={"disabled": True}, headers=merchant.headers
    )
    assert patched.status_code == 200, patched.text

    named = await redeliver(client, merchant, event_id, {"endpointId": disabled["id"]})
    every = await redeliver(client, merchant, event_id)

    error = assert_error(named, 409, "invalid_state_error")["error"]
    assert error["param"] == "endpointId"
    assert every.status_code == 202, every.text
    assert [d["endpointId"] for d in every.json()["data"]["deliveries"]] == [enabled["id"]]
    assert (await delivery_row(engine, disabled_delivery))["status"] == "failed"


async def test_redelivery_with_no_endpoint_queues_nothing(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine
) -> None:
    [event_id] = await add_events(engine, merchant, [T.PAYMENT_COMPLETED])

    response = await redeliver(client, merchant, event_id, {})

    assert response.status_code == 202, response.text
    assert response.json()["data"] == {"eventId": event_id, "deliveries": []}


@pytest.mark.parametrize(
    "body", [{"endpointId": "not-a-uuid"}, {"endpointId": 7}, {"endpoint": str(uuid.uuid4())}]
)
async def test_an_invalid_redelivery_body_is_400(
    client: httpx.AsyncClient, merchant: MerchantFixture, engine: AsyncEngine, body: Any
) -> None:
    [event_id] = await add_events(engine, merchant, [T.PAYMENT_COMPLETED])
    response = await redeliver(client, merchant, event_id, body)
    assert_error(response, 400, "invalid_request_error")


async def test_another_merchants_event_answers_like_a_missing_one(
    client: httpx.AsyncClient, onboard: OnboardMerchant, engine: AsyncEngine
) -> None:
    owner, intruder = await onboard(name="Merchant A"), await onboard(name="Merchant B")
    endpoint = await create_endpoint(client, owner)
    [event_id] = await add_events(engine, owner, [T.PAYMENT_COMPLETED])
    await enqueue(engine, event_id)
    delivery_id = await finish_delivery(engine, event_id, endpoint["id"], [200])
    unknown_ids = [f"evt_{uuid.uuid4().hex}", "not-an-event", "evt_" + "a" * 100, "evt_a%00b"]

    for method, suffix in (("GET", ""), ("POST", "/redeliver")):
        responses = [
            await client.request(method, f"/events/{an_id}{suffix}", headers=intruder.headers)
            for an_id in [event_id, *unknown_ids]
        ]
        errors = [assert_error(r, 404, "invalid_request_error")["error"] for r in responses]
        assert len({(e["code"], e.get("param")) for e in errors}) == 1, (method, errors)
        assert owner.id not in responses[0].text

    listed = await client.get("/events", headers=intruder.headers)
    assert listed.json()["data"] == []
    assert (await delivery_row(engine, delivery_id))["status"] == "succeeded"


async def test_redelivery_to_another_merchants_endpoint_is_404(
    client: httpx.AsyncClient, onboard: OnboardMerchant, engine: AsyncEngine
) -> None:
    owner, intruder = await onboard(name="Merchant A"), await onboard(name="Merchant B")
    foreign_endpoint = await create_endpoint(client, owner)
    [own_event] = await add_events(engine, intruder, [T.PAYMENT_COMPLETED])

    foreign = await redeliver(client, intruder, own_event, {"endpointId": foreign_endpoint["id"]})
    missing = await redeliver(client, intruder, own_event, {"endpointId": str(uuid.uuid4())})

    foreign_error = assert_error(foreign, 404, "invalid_request_error")["error"]
    missing_error = assert_error(missing, 404, "invalid_request_error")["error"]
    assert foreign_error["param"] == missing_error["param"] == "endpointId"
    assert foreign_error["code"] == missing_error["code"]
    async with engine.connect() as connection:
        count = await connection.execute(
            text("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :endpoint"),
            {"endpoint": foreign_endpoint["id"]},
        )
        assert count.scalar_one() == 0
