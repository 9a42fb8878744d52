"""Payments routed to merchants' Stripe connectors whose processor is a fake in memory (httpx's
MockTransport answering as Stripe documents): one key is never reached (its connection refused),
one answers 500 to every authorization, one asks for 3-D Secure through Stripe.js only, one
works. For the fallback tests and their recorded history."""

import base64
import uuid
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from payments_core.connectors import service as connectors
from payments_core.connectors.gateways import Gateways
from payments_core.connectors.models import ConnectorToken
from payments_core.connectors.schemas import ConnectorCreate
from payments_core.db.session import transaction
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.temporal import names
from payments_core.webhooks.secret_box import SecretBox, new_key
from payments_worker.activities import PaymentActivities
from payments_worker.worker import build_worker
from tests.worker.support import (
    SUCCEEDING_CARDS,
    card_method,
    create_merchant,
    create_payment,
    run_payment,
)

UNREACHABLE = "sk_test_" + "u" * 24
FAILING = "sk_test_" + "e" * 24
WORKING = "sk_test_" + "w" * 24
# Asks for 3-D Secure through Stripe.js only (use_stripe_sdk): no page to send the customer to.
SDK_ONLY = "sk_test_" + "k" * 24

Sessions = async_sessionmaker[AsyncSession]


def fake_stripe(seen: list[tuple[str, str, str]]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        key = base64.b64decode(encoded).decode().partition(":")[0] if scheme == "Basic" else ""
        path = request.url.path
        seen.append((key, request.method, path))
        if key == UNREACHABLE:
            raise httpx.ConnectError("connection refused (test)", request=request)
        if path == "/v1/payment_intents/search":
            return httpx.Response(200, json={"object": "search_result", "data": []})
        if (request.method, path) == ("POST", "/v1/payment_intents"):
            if key == FAILING:
                return httpx.Response(500, json={"error": {"type": "api_error"}})
            if key == SDK_ONLY:
                action = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
                intent = {"id": "pi_sdk", "status": "requires_action", "next_action": action}
                return httpx.Response(200, json=intent)
            return httpx.Response(200, json={"id": "pi_fallback", "status": "requires_capture"})
        if path.endswith("/capture"):
            return httpx.Response(200, json={"id": "pi_fallback", "status": "succeeded"})
        return httpx.Response(404, json={"error": {"type": "invalid_request_error"}})

    return httpx.MockTransport(answer)


class Routed:
    """A merchant with Stripe connectors (by priority, in the order given) holding one card."""

    def __init__(self, sessions: Sessions, sandbox: SandboxConnector, client: Client) -> None:
        self.sessions = sessions
        self.sandbox = sandbox
        self.client = client
        self.box = SecretBox(new_key())
        self.seen: list[tuple[str, str, str]] = []

    async def payment(self, *keys: str) -> tuple[str, list[uuid.UUID]]:
        merchant_id = await create_merchant(self.sessions)
        self.merchant_id = merchant_id
        # Registered before the connectors exist (the sandbox's vault only); their tokens next.
        method_id = await card_method(self.sessions, self.sandbox, merchant_id, SUCCEEDING_CARDS[0])
        connector_ids = []
        async with transaction(self.sessions) as session:
            for priority, key in enumerate(keys):
                request = ConnectorCreate.model_validate(
                    {"type": "stripe", "credentials": {"secretKey": key}, "priority": priority}
                )
                connector = await connectors.create(
                    session, merchant_id, "test", request, box=self.box
                )
                session.add(
                    ConnectorToken(
                        payment_method_id=method_id, connector_id=connector.id, token="pm_card"
                    )
                )
                connector_ids.append(connector.id)
        return await create_payment(self.sessions, merchant_id, method_id), connector_ids

    async def run(self, payment_id: str) -> str:
        """Run its workflow to the end on a worker of its own; the workflow id."""
        gateways = Gateways(self.sandbox, self.box, transport=fake_stripe(self.seen))
        activities = PaymentActivities(
            self.sessions, gateways, gateway_call_timeout=timedelta(seconds=3)
        )
        queue = f"fallback-{uuid.uuid4().hex}"
        try:
            async with build_worker(self.client, queue, activities):
                await run_payment(self.client, queue, payment_id)
        finally:
            await gateways.aclose()
        return names.payment_workflow_id(payment_id)
