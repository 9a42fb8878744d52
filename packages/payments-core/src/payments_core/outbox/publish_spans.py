"""The relay's PRODUCER spans: one per published row, child of the context the row stored.

The SNS message then carries the publish span's traceparent, so a consumer's span hangs under
the publish that sent it. Rows without a stored context (written while tracing was off) get no
span and travel as they are; with tracing off here, a stored traceparent still travels unchanged.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from payments_core.outbox.repository import PendingMessage
from payments_core.telemetry.tracing import (
    context_from_traceparent,
    traceparent_of,
    tracer,
    tracing_active,
)


@dataclass
class PublishSpans:
    by_event: dict[str, Span] = field(default_factory=dict)

    @classmethod
    def start(cls, messages: Sequence[PendingMessage], topic_arn: str) -> "PublishSpans":
        spans = cls()
        if not tracing_active():
            return spans
        topic = topic_arn.rsplit(":", 1)[-1]
        for message in messages:
            parent = context_from_traceparent(message.traceparent)
            if parent is None:
                continue
            spans.by_event[message.id] = tracer().start_span(
                f"send {topic}",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "aws_sns",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": topic,
                    "payments.event.id": message.id,
                    "payments.event.type": message.event_type,
                },
            )
        return spans

    def traceparent(self, message: PendingMessage) -> str | None:
        """What the message carries: its publish span's context, else the stored one."""
        span = self.by_event.get(message.id)
        return (traceparent_of(span) if span is not None else None) or message.traceparent

    def end(self, published: Sequence[str], failed: dict[str, str]) -> None:
        for event_id, span in self.by_event.items():
            if event_id in failed or event_id not in published:
                span.set_status(Status(StatusCode.ERROR, failed.get(event_id, "not published")))
            span.end()

    def end_all_failed(self, error: BaseException) -> None:
        for span in self.by_event.values():
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()
