"""The publisher against a fake SNS: how many PublishBatch calls a claim makes, and when it stops
making them (regression: `make chaos` saw a slow endpoint get ten calls per claim, all timing
out, on every retry)."""

import asyncio
import uuid
from typing import Any

from payments_core.outbox.repository import PendingMessage
from payments_core.outbox.sns_publisher import MAX_CONCURRENT_CALLS, SnsBatchPublisher


class FakeSns:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.calls = 0
        self.in_flight = 0
        self.most_in_flight = 0

    async def publish_batch(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            if self.fail:
                raise TimeoutError("read timeout")
            entries = request["PublishBatchRequestEntries"]
            return {"Successful": [{"Id": entry["Id"]} for entry in entries]}
        finally:
            self.in_flight -= 1


def messages(count: int) -> list[PendingMessage]:
    merchant = uuid.uuid4()
    return [
        PendingMessage(
            f"evt_{index}", "payment.completed", merchant, {"id": f"evt_{index}"}, None, 0
        )
        for index in range(count)
    ]


async def test_a_healthy_topic_gets_every_chunk_a_few_calls_at_a_time() -> None:
    sns = FakeSns(fail=False)
    outcome = await SnsBatchPublisher(sns, "arn:topic").publish(messages(100))
    assert len(outcome.published) == 100 and not outcome.failed
    assert sns.calls == 10
    assert sns.most_in_flight == MAX_CONCURRENT_CALLS


async def test_a_failing_topic_gets_no_more_calls_once_one_failed() -> None:
    sns = FakeSns(fail=True)
    outcome = await SnsBatchPublisher(sns, "arn:topic").publish(messages(100))
    assert not outcome.published
    assert len(outcome.failed) == 100  # every row waits out its backoff and is retried
    assert sns.calls == MAX_CONCURRENT_CALLS  # the calls already in flight, no more
    unsent = [error for error in outcome.failed.values() if error.startswith("NotSent")]
    assert len(unsent) == 100 - 10 * MAX_CONCURRENT_CALLS
    assert "TimeoutError: read timeout" in unsent[0]
