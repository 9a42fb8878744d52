"""Capture later through the public API, the whole pipeline running: a manual payment stops at
`authorized`, and `POST /capture` or `POST /cancel` answers with the outcome the workflow
reached; a capture and a cancel racing each other have one winner."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from payments_devstack.moto_server import MotoServer
from tests.e2e.support import (
    SUCCEEDING_CARDS,
    Merchant,
    Pipeline,
    Sessions,
    running_pipeline,
)

AMOUNT = 10_000


async def _authorized(pipeline: Pipeline, merchant: Merchant) -> dict[str, Any]:
    method_id = await pipeline.add_card(merchant, SUCCEEDING_CARDS[0])
    response = await pipeline.api.post(
        "/payments",
        json={"amount": AMOUNT, "paymentMethodId": method_id, "captureMethod": "manual"},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["data"]
    assert created["captureMethod"] == "manual"
    assert created["authorizationExpiresAt"] is not None
    return await pipeline.wait_for_payment(merchant, created["id"], frozenset({"authorized"}))


async def test_a_partial_capture_answers_completed_and_bounds_the_refunds(
    pipeline: Pipeline,
) -> None:
    merchant = await pipeline.onboard()
    payment = await _authorized(pipeline, merchant)
    assert (payment["amountCaptured"], payment["gatewayReference"] is not None) == (0, True)

    too_much = await pipeline.api.post(
        f"/payments/{payment['id']}/capture", json={"amount": AMOUNT + 1}, headers=merchant.headers
    )
    assert too_much.status_code == 400, too_much.text
    assert too_much.json()["error"]["param"] == "amount"

    headers = {**merchant.headers, "Idempotency-Key": f"capture-{payment['id']}"}
    captured = await pipeline.api.post(
        f"/payments/{payment['id']}/capture", json={"amount": 6_000}, headers=headers
    )
    assert captured.status_code == 200, captured.text
    data = captured.json()["data"]
    assert (data["status"], data["amountCaptured"], data["amount"]) == ("completed", 6_000, AMOUNT)
    # Replayed from the key, not captured twice.
    replay = await pipeline.api.post(
        f"/payments/{payment['id']}/capture", json={"amount": 6_000}, headers=headers
    )
    assert (replay.status_code, replay.headers.get("idempotent-replayed")) == (200, "true")
    assert await pipeline.ledger(payment["id"]) == [
        ("authorize", "approved"),
        ("capture", "approved"),
    ]
    again = await pipeline.api.post(
        f"/payments/{payment['id']}/capture", json={}, headers=merchant.headers
    )
    assert again.status_code == 409, again.text
    assert again.json()["error"]["type"] == "invalid_state_error"

    over = await pipeline.api.post(
        f"/payments/{payment['id']}/refunds", json={"amount": 6_001}, headers=merchant.headers
    )
    assert over.status_code == 400, over.text
    full = await pipeline.api.post(
        f"/payments/{payment['id']}/refunds", json={}, headers=merchant.headers
    )
    assert full.status_code == 201, full.text
    assert full.json()["data"]["amount"] == 6_000

    events = await pipeline.wait_published("payment", payment["id"], count=4)
    types = [event["type"] for event in events]
    assert types[:4] == [
        "payment.initiated",
        "payment.processing",
        "payment.authorized",
        "payment.completed",
    ]
    assert events[3]["payload"]["data"]["payment"]["amountCaptured"] == 6_000


async def test_cancelling_an_authorized_payment_voids_the_hold(pipeline: Pipeline) -> None:
    merchant = await pipeline.onboard()
    payment = await _authorized(pipeline, merchant)

    cancelled = await pipeline.api.post(
        f"/payments/{payment['id']}/cancel", headers=merchant.headers
    )

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "cancelled"
    assert await pipeline.ledger(payment["id"]) == [
        ("authorize", "approved"),
        ("void", "approved"),
    ]
    late = await pipeline.api.post(f"/payments/{payment['id']}/capture", headers=merchant.headers)
    assert late.status_code == 409, late.text


async def test_a_capture_racing_a_cancel_has_one_winner(pipeline: Pipeline) -> None:
    merchant = await pipeline.onboard()
    payments = [await _authorized(pipeline, merchant) for _ in range(3)]

    for payment in payments:
        capture, cancel = await asyncio.gather(
            pipeline.api.post(f"/payments/{payment['id']}/capture", headers=merchant.headers),
            pipeline.api.post(f"/payments/{payment['id']}/cancel", headers=merchant.headers),
        )
        codes = sorted([capture.status_code, cancel.status_code])
        assert codes == [200, 409], (capture.text, cancel.text)
        winner = capture if capture.status_code == 200 else cancel
        final = await pipeline.get_payment(merchant, payment["id"])
        assert final["status"] == winner.json()["data"]["status"]
        operations = [operation for operation, _ in await pipeline.ledger(payment["id"])]
        # Never both: the hold was either captured or voided.
        assert operations in (["authorize", "capture"], ["authorize", "void"])


# The API waits two thirds of its request deadline for the workflow's answer: about 3 s here.
SHORT_DEADLINES = {
    "request_timeout_seconds": 4.5,
    "database_statement_timeout_seconds": 3.0,
    "database_lock_timeout_seconds": 2.0,
    "idempotency_takeover_seconds": 9.0,
}


@pytest.fixture
async def impatient_pipeline(
    database_url: str, moto_server: MotoServer, temporal_address: str, e2e_sessions: Sessions
) -> AsyncIterator[Pipeline]:
    async with running_pipeline(
        database_url, moto_server, temporal_address, e2e_sessions, api_overrides=SHORT_DEADLINES
    ) as running:
        yield running


async def test_a_capture_no_worker_carries_out_answers_503_and_a_retry_completes_it(
    impatient_pipeline: Pipeline,
) -> None:
    """The decision is committed before the workflow is asked: with nobody to carry it out the
    API answers 503 hold_decision_pending (released, not stored on the key), the payment stays
    authorized with its decision, a cancel now loses, and the same request retried once a
    worker is back answers completed."""
    pipeline = impatient_pipeline
    merchant = await pipeline.onboard()
    payment = await _authorized(pipeline, merchant)
    await pipeline.stop_worker()
    headers = {**merchant.headers, "Idempotency-Key": f"capture-{payment['id']}"}
    path = f"/payments/{payment['id']}/capture"

    pending = await pipeline.api.post(path, json={"amount": 2_500}, headers=headers)

    assert pending.status_code == 503, pending.text
    assert pending.json()["error"]["code"] == "hold_decision_pending"
    waiting = await pipeline.get_payment(merchant, payment["id"])
    assert (waiting["status"], waiting["amountCaptured"]) == ("authorized", 0)
    late_cancel = await pipeline.api.post(
        f"/payments/{payment['id']}/cancel", headers=merchant.headers
    )
    assert late_cancel.status_code == 409, late_cancel.text

    await pipeline.start_worker()
    # As a merchant would: retry while 503. The new worker gets the workflow once its task has
    # left the stopped worker's sticky queue (Temporal's 5 s), so the first retries may wait.
    for _ in range(8):
        retried = await pipeline.api.post(path, json={"amount": 2_500}, headers=headers)
        if retried.status_code != 503:
            break
    assert retried.status_code == 200, retried.text
    assert (retried.json()["data"]["status"], retried.json()["data"]["amountCaptured"]) == (
        "completed",
        2_500,
    )
    assert await pipeline.ledger(payment["id"]) == [
        ("authorize", "approved"),
        ("capture", "approved"),
    ]
