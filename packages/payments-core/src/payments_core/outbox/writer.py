"""Stage an event in the outbox, in the caller's transaction; published after commit."""

from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.events.envelope import Event
from payments_core.outbox.models import OutboxMessage


def add_event(session: AsyncSession, event: Event, *, traceparent: str | None = None) -> None:
    """Stage the outbox row; it commits (and becomes publishable) with the caller's change."""
    session.add(
        OutboxMessage(
            id=event.id,
            event_type=event.type.value,
            merchant_id=event.merchant_id,
            payload=event.envelope(),
            traceparent=traceparent,
            created_at=event.timestamp,
            available_at=event.timestamp,
        )
    )
