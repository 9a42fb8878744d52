"""Webhook metrics: attempts by outcome, deliveries that ended, attempts in flight."""

import uuid

from prometheus_client import REGISTRY

from payments_webhook_sender.intake import IntakeHandler
from tests.core.consumer.support import eventually
from tests.webhooks.conftest import StartDispatcher
from tests.webhooks.support import (
    Receiver,
    Reply,
    Sessions,
    create_endpoint,
    finished,
    record_event,
    sqs_record,
)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def snapshot() -> dict[str, float]:
    return {
        "success": value("payments_webhook_attempts_total", outcome="success"),
        "gone": value("payments_webhook_attempts_total", outcome="gone"),
        "succeeded": value("payments_webhook_deliveries_ended_total", status="succeeded"),
        "failed": value("payments_webhook_deliveries_ended_total", status="failed"),
        "gone_timed": value("payments_webhook_attempt_duration_seconds_count", outcome="gone"),
    }


async def test_attempts_are_counted_by_outcome_and_deliveries_when_they_end(
    sessions: Sessions,
    receiver: Receiver,
    merchant_id: uuid.UUID,
    start_dispatcher: StartDispatcher,
) -> None:
    receiver.script("/gone", then=Reply(410))
    gone_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/gone"))
    live_id, _ = await create_endpoint(sessions, merchant_id, receiver.url("/live"))
    event = await record_event(sessions, merchant_id)
    before = snapshot()

    await IntakeHandler(sessions)(sqs_record(event))
    await start_dispatcher()
    await eventually(lambda: finished(sessions, event.id, gone_id), what="the 410 delivery")
    await eventually(lambda: finished(sessions, event.id, live_id), what="the other delivery")

    expected = {"success": 1, "gone": 1, "succeeded": 1, "failed": 1, "gone_timed": 1}

    def counted() -> bool:  # the counters move just after the rows commit
        after = snapshot()
        return {name: after[name] - before[name] for name in after} == expected

    await eventually(counted, what="both attempts and both endings counted")
    await eventually(
        lambda: value("payments_webhook_attempts_in_flight") == 0, what="no attempt in flight"
    )
