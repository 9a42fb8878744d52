"""Group commit of attempt results: the results that arrive together are written together, each
with the outcome it would have had alone, and a delivery's two results never share a batch."""

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from payments_core.webhooks import attempt_records
from payments_core.webhooks.attempt_records import RecordedAttempt
from payments_core.webhooks.deliveries import AttemptResult
from payments_webhook_sender import recorder as recorder_module
from payments_webhook_sender.intake import IntakeHandler
from payments_webhook_sender.recorder import AttemptRecorder
from tests.webhooks.support import (
    Sessions,
    attempts_of,
    create_endpoint,
    deliveries_of,
    delivery_of,
    record_event,
    sqs_record,
)
from tests.webhooks.test_lease import FAILED_500, SCHEDULE, claim, pending_delivery

OK = AttemptResult(200, 7)


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each batch the recorder writes (through the real statement)."""
    sizes: list[int] = []

    async def counted(session: Any, attempts: Sequence[Any], *args: Any) -> Any:
        sizes.append(len(attempts))
        return await attempt_records.record_attempts(session, attempts, *args)

    monkeypatch.setattr(recorder_module, "record_attempts", counted)
    return sizes


async def test_results_that_arrive_together_are_written_in_one_batch(
    sessions: Sessions, merchant_id: uuid.UUID, batches: list[int]
) -> None:
    await create_endpoint(sessions, merchant_id, "http://127.0.0.1:9/hooks")
    events = [await record_event(sessions, merchant_id) for _ in range(5)]
    for event in events:
        await IntakeHandler(sessions)(sqs_record(event))
    claims = await claim(sessions, lease_seconds=30, per_endpoint=5)
    assert len(claims) == 5
    results = [OK, FAILED_500, OK, AttemptResult(410, 3, "http_status: endpoint answered 410"), OK]

    recorder = AttemptRecorder(sessions, SCHEDULE)
    recorded = await asyncio.gather(
        *(recorder.record(c, r) for c, r in zip(claims, results, strict=True))
    )

    assert batches == [5]
    assert [r.status for r in recorded] == [
        "succeeded",
        "pending",
        "succeeded",
        "failed",
        "succeeded",
    ]
    assert all(r.attempt_count == 1 for r in recorded)
    for claimed, result, outcome in zip(claims, results, recorded, strict=True):
        [delivery] = [
            d
            for d in await deliveries_of(sessions, claimed.event_id)
            if d.id == claimed.delivery_id
        ]
        assert (delivery.status, delivery.last_status_code) == (outcome.status, result.status_code)
        assert delivery.next_attempt_at == outcome.next_attempt_at
        assert [a.status_code for a in await attempts_of(sessions, delivery.id)] == [
            result.status_code
        ]


async def test_a_deliverys_two_results_go_in_separate_batches_and_the_live_lease_decides(
    sessions: Sessions, merchant_id: uuid.UUID, batches: list[int]
) -> None:
    endpoint_id, event = await pending_delivery(sessions, merchant_id)
    [dead] = await claim(sessions, lease_seconds=0)
    [live] = await claim(sessions, lease_seconds=30)

    recorder = AttemptRecorder(sessions, SCHEDULE)
    late, current = await asyncio.gather(
        recorder.record(dead, FAILED_500), recorder.record(live, OK)
    )

    assert batches == [1, 1]
    assert (late.status, late.attempt_count) == ("pending", 1)  # the live claim's lease held
    assert (current.status, current.attempt_count) == ("succeeded", 2)
    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None
    assert (delivery.status, delivery.last_status_code, delivery.retries_used) == (
        "succeeded",
        200,
        0,
    )
    assert [a.status_code for a in await attempts_of(sessions, delivery.id)] == [500, 200]


async def test_a_failed_write_fails_each_waiting_result_and_the_next_write_goes_on(
    sessions: Sessions, merchant_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint_id, event = await pending_delivery(sessions, merchant_id)
    [claimed] = await claim(sessions, lease_seconds=30)
    recorder = AttemptRecorder(sessions, SCHEDULE)

    async def broken(*_: Any) -> Any:
        raise ConnectionError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(recorder_module, "record_attempts", broken)
        with pytest.raises(ConnectionError):
            await recorder.record(claimed, OK)
    delivery = await delivery_of(sessions, event.id, endpoint_id)
    assert delivery is not None and (delivery.status, delivery.attempt_count) == ("pending", 0)

    assert (await recorder.record(claimed, OK)).status == "succeeded"


async def test_a_delivery_gone_from_the_table_fails_alone_not_its_batch(
    sessions: Sessions, merchant_id: uuid.UUID, batches: list[int]
) -> None:
    await pending_delivery(sessions, merchant_id)
    [claimed] = await claim(sessions, lease_seconds=30)
    vanished = dataclasses.replace(claimed, delivery_id=uuid.uuid4())
    recorder = AttemptRecorder(sessions, SCHEDULE)

    missing, recorded = await asyncio.gather(
        recorder.record(vanished, OK), recorder.record(claimed, OK), return_exceptions=True
    )

    assert batches == [2]
    assert isinstance(missing, LookupError)
    assert isinstance(recorded, RecordedAttempt) and recorded.status == "succeeded"
