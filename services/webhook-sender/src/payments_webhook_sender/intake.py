"""One record of payment-webhook-queue → the event's deliveries, written once.

The record only creates rows: one pending delivery per (event, matching endpoint), unique on
that pair, so SQS redelivering the message creates nothing new. Sending happens elsewhere (the
dispatcher), which is why a slow merchant never holds a queue slot: the message is deleted as
soon as its deliveries are committed.
"""

from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.consumer.envelope import parse_event
from payments_core.consumer.errors import PoisonMessage
from payments_core.consumer.records import SqsRecord
from payments_core.db.session import transaction
from payments_core.webhooks.deliveries import enqueue_for_event, event_recorded

log = structlog.get_logger("payments_webhook_sender")


@dataclass(frozen=True)
class IntakeHandler:
    session_factory: async_sessionmaker[AsyncSession]
    # Called after new deliveries commit: the dispatcher sends them without waiting for a poll.
    on_enqueued: Callable[[], None] = lambda: None

    async def __call__(self, record: SqsRecord) -> None:
        event = parse_event(record.body)
        async with transaction(self.session_factory) as session:
            created = await enqueue_for_event(session, event.id)
            # Nothing created: a repeat, no matching endpoint, or no such event. Only the last is
            # an error (every published event is an outbox row committed before the publish),
            # and only then is the extra lookup paid.
            if not created and not await event_recorded(session, event.id):
                raise PoisonMessage(f"event {event.id} is not in the event log")
        if created:
            self.on_enqueued()
        log.info(
            "webhooks.event_received",
            event_id=event.id,
            event_type=event.type.value,
            deliveries_created=created,
            message_id=record.message_id,
        )
