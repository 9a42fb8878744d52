"""Fixtures for the outbox relay tests: real PostgreSQL, a real moto server, our own merchant."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.aws.clients import AwsClient, AwsContext
from payments_core.aws.provisioning import ProvisionedResources, provision
from payments_core.aws.topology import ANALYTICS_QUEUE
from payments_core.db.engine import asyncpg_dsn, create_engine, create_session_factory
from payments_core.db.session import transaction
from payments_core.events.envelope import Event, EventType
from payments_core.merchants.models import Merchant
from payments_core.outbox.models import OutboxMessage
from payments_core.outbox.relay import OutboxRelay
from payments_core.outbox.writer import add_event
from payments_core.settings import CoreSettings
from payments_devstack.moto_server import MotoServer


@pytest.fixture(scope="session")
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=5)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def settings(database_url: str, moto_endpoint: str) -> CoreSettings:
    return CoreSettings(
        database_url=database_url, aws_endpoint_url=moto_endpoint, aws_region="us-east-1"
    )


@pytest.fixture
async def topology(moto_server: MotoServer, settings: CoreSettings) -> ProvisionedResources:
    moto_server.reset()
    return await provision(settings)


@pytest.fixture
async def sns(settings: CoreSettings) -> AsyncIterator[AwsClient]:
    async with AwsContext.from_settings(settings).client("sns") as client:
        yield client


@pytest.fixture
async def sqs(settings: CoreSettings) -> AsyncIterator[AwsClient]:
    async with AwsContext.from_settings(settings).client("sqs") as client:
        yield client


@pytest.fixture
async def merchant_id(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[uuid.UUID]:
    """A merchant of this test alone; assertions look only at its rows and messages."""
    merchant = Merchant(name="Outbox Test", email=f"outbox-{uuid.uuid4().hex}@example.com")
    async with transaction(sessions) as session:
        session.add(merchant)
    yield merchant.id
    async with transaction(sessions) as session:
        await session.execute(delete(Merchant).where(Merchant.id == merchant.id))  # type: ignore[arg-type]


AddEvents = Callable[..., Awaitable[list[Event]]]


@pytest.fixture
def add_events(sessions: async_sessionmaker[AsyncSession], merchant_id: uuid.UUID) -> AddEvents:
    async def add(
        count: int = 1,
        event_type: EventType = EventType.PAYMENT_INITIATED,
        traceparent: str | None = None,
    ) -> list[Event]:
        events = [
            Event.new(event_type, merchant_id, {"payment": {"id": str(uuid.uuid4()), "n": n}})
            for n in range(count)
        ]
        async with transaction(sessions) as session:
            for event in events:
                add_event(session, event, traceparent=traceparent)
        return events

    return add


@pytest.fixture
def unpublished_count(
    sessions: async_sessionmaker[AsyncSession], merchant_id: uuid.UUID
) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        async with transaction(sessions) as session:
            statement = select(func.count()).where(
                OutboxMessage.merchant_id == merchant_id,  # type: ignore[arg-type]
                OutboxMessage.published_at.is_(None),  # type: ignore[union-attr]
            )
            return int((await session.execute(statement)).scalar_one())

    return count


RelayFactory = Callable[..., OutboxRelay]


@pytest.fixture
async def make_relay(
    sessions: async_sessionmaker[AsyncSession],
    topology: ProvisionedResources,
    sns: AwsClient,
    database_url: str,
) -> AsyncIterator[RelayFactory]:
    """Relays on the provisioned topic; those still running at teardown are stopped."""
    relays: list[OutboxRelay] = []

    def make(**options: Any) -> OutboxRelay:
        options.setdefault("sns_client", sns)
        options.setdefault("listen_dsn", asyncpg_dsn(database_url))
        relay = OutboxRelay(sessions, topic_arn=topology.topic_arn, **options)
        relays.append(relay)
        return relay

    yield make
    await asyncio.gather(*(relay.stop() for relay in relays))


class QueueReader:
    """Collects the messages of one merchant from a queue, deleting them as it reads."""

    def __init__(self, sqs: AwsClient, queue_url: str, merchant_id: uuid.UUID) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._merchant = str(merchant_id)
        self.messages: list[dict[str, Any]] = []

    async def read_until(self, count: int, within: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within
        while len(self.messages) < count and time.monotonic() < deadline:
            await self.read_available()
            if len(self.messages) < count:
                await asyncio.sleep(0.02)
        return self.messages

    async def read_available(self) -> int:
        """One receive; returns how many messages (anyone's) it brought."""
        response = await self._sqs.receive_message(
            QueueUrl=self._url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        received = response.get("Messages", [])
        if received:
            await self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(received)
                ],
            )
        ours = [
            message
            for message in received
            if message["MessageAttributes"]["merchantId"]["StringValue"] == self._merchant
        ]
        self.messages.extend(ours)
        return len(received)

    async def drain(self) -> list[dict[str, Any]]:
        """Everything left: reads until a few receives in a row come back empty."""
        empty = 0
        while empty < 3:
            empty = 0 if await self.read_available() else empty + 1
        return self.messages


@pytest.fixture
def analytics_queue(
    sqs: AwsClient, topology: ProvisionedResources, merchant_id: uuid.UUID
) -> QueueReader:
    return QueueReader(sqs, topology.queue_urls[ANALYTICS_QUEUE], merchant_id)
