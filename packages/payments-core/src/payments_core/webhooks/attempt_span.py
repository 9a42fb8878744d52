"""One CLIENT span per webhook POST, child of the event's stored trace context.

Deliveries are sent later, from the `webhook_deliveries` table, so the context comes from the
event's outbox row (the claim reads it). While the span is current, `attempt_delivery` sends its
context as the `traceparent` header: a merchant who traces can join the payment's trace.
Attributes name ids and the status code only: never the URL (merchants put tokens in query
strings), the body or the signature.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from payments_core.telemetry.tracing import context_from_traceparent, tracer, tracing_active
from payments_core.webhooks.deliveries import AttemptResult, ClaimedDelivery

SPAN_NAME = "webhook POST"


@contextmanager
def attempt_span(claim: ClaimedDelivery) -> Iterator[Span | None]:
    """The attempt's span, current inside the block; None while tracing is off."""
    if not tracing_active():
        yield None
        return
    with tracer().start_as_current_span(
        SPAN_NAME,
        context=context_from_traceparent(claim.traceparent),
        kind=SpanKind.CLIENT,
        attributes={
            "http.request.method": "POST",
            "payments.event.id": claim.event_id,
            "payments.webhook.delivery_id": str(claim.delivery_id),
            "payments.webhook.endpoint_id": str(claim.endpoint_id),
        },
    ) as span:
        yield span


def record_result(span: Span | None, result: AttemptResult) -> None:
    if span is None:
        return
    if result.status_code is not None:
        span.set_attribute("http.response.status_code", result.status_code)
    if not result.succeeded:
        # The error's category (`http_status`, `timeout`, `connection`, ...), not its text.
        category = (result.error or "failed").split(":", 1)[0]
        span.set_status(Status(StatusCode.ERROR, category))
