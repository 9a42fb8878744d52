"""A created payment's `payment.initiated` event reaches the fan-out queues through the outbox."""

import asyncio
import json
import time
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_api.app import create_app
from payments_core.aws.clients import AwsContext
from payments_core.aws.provisioning import provision
from payments_core.aws.topology import ANALYTICS_QUEUE, PROCESSING_QUEUE
from tests.api.support import OPERATOR, TEST_CARD, api_settings, running_client, unique_email


async def _receive_until(sqs: Any, queue_url: str, payment_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = await sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        )
        for message in answer.get("Messages", []):
            body = json.loads(message["Body"])
            if body["data"]["payment"]["id"] == payment_id:
                return {"body": body, "attributes": message.get("MessageAttributes", {})}
    raise AssertionError(f"payment.initiated for {payment_id} never reached {queue_url}")


async def test_created_payment_event_arrives_in_the_analytics_and_processing_queues(
    database_url: str, moto_endpoint: str, engine: AsyncEngine
) -> None:
    async with httpx.AsyncClient() as http:
        (await http.post(f"{moto_endpoint}/moto-api/reset")).raise_for_status()
    settings = api_settings(
        database_url,
        enable_sns_publishing=True,
        aws_endpoint_url=moto_endpoint,
        outbox_poll_seconds=5.0,
    )
    aws = AwsContext.from_settings(settings)
    resources = await provision(aws)
    async with engine.begin() as connection:  # other tests' rows are not this test's business
        await connection.execute(
            text("UPDATE outbox SET published_at = now() WHERE published_at IS NULL")
        )

    async with running_client(create_app(settings)) as client:
        onboarded = await client.post(
            "/merchants", json={"name": "Bus", "email": unique_email()}, headers=OPERATOR
        )
        headers = {"X-API-Key": onboarded.json()["data"]["apiKey"]}
        method = await client.post(
            "/payment-methods", json={"type": "card", "card": TEST_CARD}, headers=headers
        )
        created = await client.post(
            "/payments",
            json={
                "amount": 100000,
                "currency": "NGN",
                "paymentMethodId": method.json()["data"]["id"],
            },
            headers=headers,
        )
        payment = created.json()["data"]
        async with aws.client("sqs") as sqs:
            analytics = await _receive_until(
                sqs, resources.queues[ANALYTICS_QUEUE].url, payment["id"]
            )
            processing = await _receive_until(
                sqs, resources.queues[PROCESSING_QUEUE].url, payment["id"]
            )
        await asyncio.sleep(0)

    for delivered in (analytics, processing):
        envelope = delivered["body"]
        assert envelope["type"] == "payment.initiated"
        assert envelope["id"].startswith("evt_")
        assert envelope["merchantId"] == payment["merchantId"]
        assert envelope["data"]["payment"] == payment
        assert delivered["attributes"]["type"]["StringValue"] == "payment.initiated"
        assert delivered["attributes"]["merchantId"]["StringValue"] == payment["merchantId"]
    async with engine.connect() as connection:
        published = await connection.execute(
            text("SELECT published_at FROM outbox WHERE id = :id"), {"id": analytics["body"]["id"]}
        )
        assert published.scalar_one() is not None
