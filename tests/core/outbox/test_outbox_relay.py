"""The relay against real PostgreSQL and a real moto server: what it publishes, and when."""

import asyncio
import json
import time
import uuid
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.aws.clients import AwsContext
from payments_core.db.session import transaction
from payments_core.events.envelope import Event, EventType
from payments_core.outbox.models import OutboxMessage
from payments_core.outbox.writer import add_event
from payments_core.settings import CoreSettings

PUBLISHED = "payments_outbox_published_total"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def outbox_rows(
    sessions: async_sessionmaker[AsyncSession], merchant_id: uuid.UUID
) -> list[OutboxMessage]:
    async with transaction(sessions) as session:
        statement = select(OutboxMessage).where(OutboxMessage.merchant_id == merchant_id)  # type: ignore[arg-type]
        return list((await session.execute(statement)).scalars())


async def wait_until(condition: Any, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_publishes_committed_rows_with_attributes(
    make_relay: Any, add_events: Any, analytics_queue: Any, sessions: Any, merchant_id: uuid.UUID
) -> None:
    (event,) = await add_events(event_type=EventType.PAYMENT_COMPLETED, traceparent=TRACEPARENT)

    counted_before = REGISTRY.get_sample_value(PUBLISHED, {"outcome": "published"}) or 0
    published = await publish_all(make_relay())
    (message,) = await analytics_queue.read_until(1)

    assert published >= 1
    assert REGISTRY.get_sample_value(PUBLISHED, {"outcome": "published"}) == (
        counted_before + published
    )
    assert json.loads(message["Body"]) == event.envelope()
    assert list(json.loads(message["Body"])) == ["id", "type", "timestamp", "merchantId", "data"]
    assert ", " not in message["Body"]  # compact
    attributes = {
        name: value["StringValue"] for name, value in message["MessageAttributes"].items()
    }
    assert attributes == {
        "type": "payment.completed",
        "merchantId": str(merchant_id),
        "traceparent": TRACEPARENT,
    }
    (row,) = await outbox_rows(sessions, merchant_id)
    assert row.published_at is not None
    assert row.attempts == 0


async def test_rows_of_an_uncommitted_transaction_are_not_published(
    make_relay: Any,
    analytics_queue: Any,
    sessions: async_sessionmaker[AsyncSession],
    merchant_id: uuid.UUID,
    unpublished_count: Any,
) -> None:
    relay = make_relay()
    async with sessions() as session, session.begin():
        add_event(session, Event.new(EventType.PAYMENT_INITIATED, merchant_id, {}))
        await session.flush()

        await relay.publish_pending_once()
        assert await analytics_queue.drain() == []

    assert await unpublished_count() == 1
    await publish_all(relay)
    assert len(await analytics_queue.read_until(1)) == 1


async def test_two_relays_publish_every_row_exactly_once(
    make_relay: Any, add_events: Any, analytics_queue: Any, unpublished_count: Any
) -> None:
    events = await add_events(120)
    relays = [make_relay(batch_size=10), make_relay(batch_size=10)]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]

    await wait_until(lambda: _is_zero(unpublished_count))
    await asyncio.gather(*(relay.stop() for relay in relays))
    await asyncio.gather(*tasks)

    ids = [json.loads(message["Body"])["id"] for message in await analytics_queue.drain()]
    assert sorted(ids) == sorted(event.id for event in events)


async def test_rows_wait_out_an_sns_outage_then_publish(
    make_relay: Any,
    add_events: Any,
    analytics_queue: Any,
    sessions: async_sessionmaker[AsyncSession],
    merchant_id: uuid.UUID,
    unpublished_count: Any,
    settings: CoreSettings,
) -> None:
    events = await add_events(15)
    down = settings.model_copy(update={"aws_endpoint_url": "http://127.0.0.1:9"})
    async with AwsContext.from_settings(down).client("sns") as unreachable_sns:
        published = await make_relay(sns_client=unreachable_sns).publish_pending_once()

    rows = await outbox_rows(sessions, merchant_id)
    assert published == 0
    assert all(row.published_at is None and row.attempts == 1 for row in rows)
    assert all(row.last_error and row.available_at > row.created_at for row in rows)

    relay = make_relay(poll_interval=0.1)
    task = asyncio.create_task(relay.run())
    await wait_until(lambda: _is_zero(unpublished_count))
    await relay.stop()
    await task

    assert len(await analytics_queue.drain()) == len(events)


async def test_a_relay_killed_mid_way_loses_nothing(
    make_relay: Any,
    add_events: Any,
    analytics_queue: Any,
    sessions: async_sessionmaker[AsyncSession],
    merchant_id: uuid.UUID,
    unpublished_count: Any,
) -> None:
    events = await add_events(150)
    doomed = asyncio.create_task(make_relay(batch_size=20).run())
    await wait_until(lambda: _is_below(unpublished_count, 130), within=30)
    doomed.cancel()  # most likely while a batch is in flight: published, not yet committed
    await asyncio.gather(doomed, return_exceptions=True)
    assert await unpublished_count() > 0, "the first relay should not have finished"

    successor = make_relay()
    task = asyncio.create_task(successor.run())
    await wait_until(lambda: _is_zero(unpublished_count), within=30)
    await successor.stop()
    await task

    received = {json.loads(message["Body"])["id"] for message in await analytics_queue.drain()}
    assert received == {event.id for event in events}
    assert all(row.published_at is not None for row in await outbox_rows(sessions, merchant_id))


async def test_notify_wakes_an_idle_relay_before_the_poll_interval(
    make_relay: Any, add_events: Any, analytics_queue: Any
) -> None:
    poll_interval = 5.0
    relay = make_relay(poll_interval=poll_interval)
    task = asyncio.create_task(relay.run())
    await asyncio.wait_for(relay.listener.connected.wait(), 10)
    await asyncio.sleep(0.3)  # let the relay go idle after its first look

    started = time.monotonic()
    await add_events(1)
    await analytics_queue.read_until(1, within=poll_interval)
    elapsed = time.monotonic() - started
    await relay.stop()
    await task

    assert len(analytics_queue.messages) == 1
    assert elapsed < poll_interval


async def test_relay_listens_again_after_its_connection_is_killed(
    make_relay: Any, add_events: Any, analytics_queue: Any, sessions: Any
) -> None:
    poll_interval = 5.0
    relay = make_relay(poll_interval=poll_interval)
    task = asyncio.create_task(relay.run())
    await asyncio.wait_for(relay.listener.connected.wait(), 10)
    async with transaction(sessions) as session:
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN %outbox_new%' AND pid <> pg_backend_pid()"
            )
        )
    await wait_until(lambda: _is_false(relay.listener.connected.is_set()), within=5)
    await asyncio.wait_for(relay.listener.connected.wait(), 10)
    await asyncio.sleep(0.3)

    started = time.monotonic()
    await add_events(1)
    await analytics_queue.read_until(1, within=poll_interval)
    elapsed = time.monotonic() - started
    await relay.stop()
    await task

    assert len(analytics_queue.messages) == 1
    assert elapsed < poll_interval


async def test_backlog_counts_unpublished_rows_and_ages_the_oldest(
    make_relay: Any, add_events: Any
) -> None:
    relay = make_relay()
    await relay.publish_pending_once()
    await add_events(3)
    await asyncio.sleep(0.2)

    backlog = await relay.backlog()

    assert backlog.count >= 3
    assert backlog.oldest_age_seconds >= 0.2


async def publish_all(relay: Any) -> int:
    """Batches until none is left: earlier test modules may have left more than one batch of
    unpublished rows (the API tests run without a relay), all older than this test's own."""
    published = 0
    while batch := await relay.publish_pending_once():
        published += batch
    return published


async def _is_zero(count: Any) -> bool:
    return int(await count()) == 0


async def _is_below(count: Any, limit: int) -> bool:
    return int(await count()) < limit


async def _is_false(value: bool) -> bool:
    return not value
