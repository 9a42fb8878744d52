"""What a workflow run leaves in the metrics: payment transitions, lifecycle, the SDK's own."""

import uuid

import pytest
from prometheus_client import REGISTRY, generate_latest
from temporalio.client import Client

from payments_core.gateway.sandbox import SandboxConnector
from payments_worker.payloads import PaymentOutcome
from tests.worker.support import DECLINED_CARD, Sessions, card_payment, payment_row, run_payment


@pytest.mark.usefixtures("worker")
async def test_a_declined_payment_is_counted_with_its_reason_and_the_sdk_reports_too(
    sessions: Sessions,
    sandbox: SandboxConnector,
    client: Client,
    task_queue: str,
    merchant_id: uuid.UUID,
) -> None:
    payment_id = await card_payment(sessions, sandbox, merchant_id, DECLINED_CARD)
    currency = (await payment_row(sessions, payment_id)).currency
    failed = {"status": "failed", "currency": currency, "failure_reason": "card_declined"}
    ended = {"status": "failed", "currency": currency}
    failed_before = REGISTRY.get_sample_value("payments_payment_transitions_total", failed) or 0
    ended_before = REGISTRY.get_sample_value("payments_payment_lifecycle_seconds_count", ended) or 0

    outcome = await run_payment(client, task_queue, payment_id)

    assert outcome == PaymentOutcome("failed", "card_declined")
    assert REGISTRY.get_sample_value("payments_payment_transitions_total", failed) == (
        failed_before + 1
    )
    assert REGISTRY.get_sample_value("payments_payment_lifecycle_seconds_count", ended) == (
        ended_before + 1
    )
    exposed = generate_latest(REGISTRY).decode()
    # The SDK's own series, drained from its metric buffer into the same registry.
    assert "\ntemporal_activity_execution_latency_bucket{" in exposed
    assert payment_id not in exposed
