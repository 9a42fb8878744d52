"""Stage an event in the outbox, in the caller's transaction; published after commit."""

from sqlalchemy.ext.asyncio import AsyncSession

from payments_core.events.envelope import Event
from payments_core.outbox.models import OutboxMessage
from payments_core.telemetry.tracing import current_traceparent


def add_event(session: AsyncSession, event: Event, *, traceparent: str | None = None) -> None:
    """Stage the outbox row; it commits (and becomes publishable) with the caller's change.

    The row keeps `traceparent`, by default the current span's (the API request, the workflow
    activity): whoever handles the event later continues that trace. None when tracing is off.
    """
    session.add(
        OutboxMessage(
            id=event.id,
            event_type=event.type.value,
            merchant_id=event.merchant_id,
            payload=event.envelope(),
            traceparent=traceparent or current_traceparent(),
            created_at=event.timestamp,
            available_at=event.timestamp,
        )
    )
