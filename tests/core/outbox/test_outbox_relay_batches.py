"""The relay's batches against real PostgreSQL and moto: a stream of events is gathered into one
claim and one PublishBatch call, rows go out oldest first, and a batch whose entries partly
failed marks exactly the published ones."""

import asyncio
import json
import uuid
from typing import Any

from payments_core.aws.clients import AwsClient
from tests.core.outbox.test_outbox_relay import outbox_rows, publish_all, wait_until


class RecordingSns:
    """Passes PublishBatch on to the real client, recording this merchant's event ids per call;
    entries whose event id is in `refuse` are answered as failed without being sent."""

    def __init__(self, sns: AwsClient, merchant_id: uuid.UUID) -> None:
        self._sns = sns
        self._merchant = str(merchant_id)
        self.refuse: set[str] = set()
        self.calls: list[list[str]] = []

    async def publish_batch(self, **request: Any) -> dict[str, Any]:
        entries = request["PublishBatchRequestEntries"]
        ours = [_event_id(entry) for entry in entries if self._is_ours(entry)]
        if ours:
            self.calls.append(ours)
        sent = [entry for entry in entries if _event_id(entry) not in self.refuse]
        refused = [
            {"Id": entry["Id"], "Code": "InternalError", "Message": "refused by the test"}
            for entry in entries
            if _event_id(entry) in self.refuse
        ]
        answer: dict[str, Any] = {"Successful": [], "Failed": refused}
        if sent:
            published = await self._sns.publish_batch(
                TopicArn=request["TopicArn"], PublishBatchRequestEntries=sent
            )
            answer["Successful"] = published.get("Successful", [])
            answer["Failed"] += published.get("Failed", [])
        return answer

    def _is_ours(self, entry: dict[str, Any]) -> bool:
        merchant = entry["MessageAttributes"]["merchantId"]["StringValue"]
        return bool(merchant == self._merchant)


def _event_id(entry: dict[str, Any]) -> str:
    return str(json.loads(entry["Message"])["id"])


async def test_a_stream_of_events_is_gathered_into_one_batch(
    make_relay: Any, add_events: Any, sns: AwsClient, merchant_id: uuid.UUID, unpublished_count: Any
) -> None:
    await publish_all(make_relay())  # rows other modules left, so the claims below are ours
    recording = RecordingSns(sns, merchant_id)
    relay = make_relay(sns_client=recording, gather_seconds=0.5, poll_interval=5.0)
    task = asyncio.create_task(relay.run())
    await asyncio.wait_for(relay.listener.connected.wait(), 10)

    (first,) = await add_events(1)
    await wait_until(lambda: _none_left(unpublished_count))
    stream = []
    for _ in range(5):  # five commits, five NOTIFYs, all within the relay's pause
        stream += await add_events(1)
        await asyncio.sleep(0.03)
    await wait_until(lambda: _none_left(unpublished_count))
    await relay.stop()
    await task

    # Without the pause the first NOTIFY of the stream woke a claim of that one row.
    assert recording.calls == [[first.id], [event.id for event in stream]]


async def test_a_batch_goes_out_oldest_first_and_marks_only_what_was_published(
    make_relay: Any,
    add_events: Any,
    sns: AwsClient,
    merchant_id: uuid.UUID,
    sessions: Any,
    analytics_queue: Any,
) -> None:
    await publish_all(make_relay())
    events = [event for _ in range(6) for event in await add_events(1)]
    recording = RecordingSns(sns, merchant_id)
    recording.refuse = {events[1].id, events[4].id}

    published = await make_relay(sns_client=recording).publish_pending_once()

    assert recording.calls == [[event.id for event in events]]
    assert published == 4
    received = {json.loads(message["Body"])["id"] for message in await analytics_queue.drain()}
    rows = {row.id: row for row in await outbox_rows(sessions, merchant_id)}
    marked = {event_id for event_id, row in rows.items() if row.published_at is not None}
    assert marked == received == {event.id for event in events} - recording.refuse
    for event_id in recording.refuse:
        assert rows[event_id].attempts == 1
        assert rows[event_id].last_error == "InternalError: refused by the test"


async def _none_left(count: Any) -> bool:
    return int(await count()) == 0
