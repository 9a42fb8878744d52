"""Idempotency-Key fencing: a request whose claim was taken over can commit nothing.

A claim older than the takeover window belongs, by assumption, to a dead request. The request
deadline keeps a live one from outliving it; these tests play the case the deadline cannot see
(a paused process, a statement stuck in the network): the first request stalls on a lock the
test holds, its claim is aged past the window, a retry takes the key over, and then both run.
"""

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.support import MerchantFixture, assert_error
from tests.api.test_idempotency import count_payments, payment_body

_WAITING_INSERTS = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO payments%'"
)


async def test_a_retry_that_takes_over_a_stalled_claim_leaves_one_payment(
    client: httpx.AsyncClient,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    headers = {**merchant.headers, "Idempotency-Key": "stalled"}
    body = payment_body(card_method)
    async with engine.connect() as blocker:
        transaction = await blocker.begin()
        await blocker.execute(text("LOCK TABLE payments IN EXCLUSIVE MODE"))
        first = asyncio.create_task(client.post("/payments", json=body, headers=headers))
        await _wait_for(engine, _WAITING_INSERTS, 1)
        await _age_claim(engine, merchant, "stalled")
        second = asyncio.create_task(client.post("/payments", json=body, headers=headers))
        await _wait_for(engine, _WAITING_INSERTS, 2)
        await transaction.rollback()
    responses = await asyncio.gather(first, second)

    assert await count_payments(engine, merchant) == 1
    created = [response for response in responses if response.status_code == 201]
    assert len(created) == 1, [response.text for response in responses]
    for response in responses:
        if response is not created[0]:
            assert_error(response, 409, "idempotency_error", "idempotency_key_in_use")
    retry = await client.post("/payments", json=body, headers=headers)
    assert retry.status_code == 201 and retry.json() == created[0].json()


async def _age_claim(engine: AsyncEngine, merchant: MerchantFixture, key: str) -> None:
    """As if the claim's request had been running for five minutes (past any window)."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE idempotency_keys SET locked_at = now() - interval '5 minutes'"
                " WHERE merchant_id = :merchant AND key = :key"
            ),
            {"merchant": merchant.id, "key": key},
        )


async def _wait_for(engine: AsyncEngine, query: Any, at_least: int) -> None:
    for _ in range(500):
        async with engine.connect() as connection:
            if (await connection.execute(query)).scalar_one() >= at_least:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {at_least} requests ever waited on the lock")
