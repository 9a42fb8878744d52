"""The CONSUMER span around handling one SQS record, child of the span that sent the message.

The parent is the message's `traceparent` attribute (the relay's publish span); a message without
one starts a trace of its own. Nothing at all happens while tracing is off.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.trace import SpanKind

from payments_core.aws.topology import EVENT_TYPE_ATTRIBUTE, TRACEPARENT_ATTRIBUTE
from payments_core.consumer.records import SqsRecord
from payments_core.telemetry.tracing import context_from_traceparent, tracer, tracing_active


@contextmanager
def consumer_span(record: SqsRecord, queue: str) -> Iterator[None]:
    if not tracing_active():
        yield
        return
    attributes: dict[str, str | int] = {
        "messaging.system": "aws_sqs",
        "messaging.operation.type": "process",
        "messaging.destination.name": queue,
        "messaging.message.id": record.message_id,
        "messaging.aws.sqs.receive_count": record.receive_count,
    }
    event_type = record.message_attributes.get(EVENT_TYPE_ATTRIBUTE)
    if event_type:
        attributes["payments.event.type"] = event_type
    with tracer().start_as_current_span(
        f"process {queue}",
        context=context_from_traceparent(record.message_attributes.get(TRACEPARENT_ATTRIBUTE)),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    ):
        yield
