"""Every Prometheus metric of the platform, defined once, in the process-wide default registry.

Names start with `payments_`; counters end in `_total`, durations are `_seconds` histograms.
Labels are low-cardinality by design: route templates, methods, status codes, payment statuses,
currencies, reason codes, operations, outcomes, queue names. Never an id, a URL or free text:
each label value below is either an enum of this code base or passed through `code_label`.
Each process exposes only what it itself counted; Prometheus sums across pods. The gauges only
one process sets (API_ONLY, WEBHOOK_SENDER_ONLY) are kept out of the default registry until that
process registers them: elsewhere they would read 0, which is a false statement, not "unknown".
"""

import re
from contextlib import suppress

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

# Request, gateway and webhook calls: milliseconds to the 10 s webhook timeout and beyond.
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A payment from creation to its terminal status: seconds normally, minutes when retried.
LIFECYCLE_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)

UNMATCHED_ROUTE = "unmatched"
OTHER = "other"
NONE = "none"
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")

# -- HTTP (API) ---------------------------------------------------------------------------------
HTTP_REQUEST_DURATION = Histogram(
    "payments_http_request_duration_seconds",
    "API requests by route template, method and status code (its _count is the request rate).",
    ["route", "method", "status"],
    buckets=CALL_BUCKETS,
)
HTTP_REQUESTS_IN_FLIGHT = Gauge(
    "payments_http_requests_in_flight", "API requests being served.", registry=None
)

# -- Payments and refunds -----------------------------------------------------------------------
PAYMENT_TRANSITIONS = Counter(
    "payments_payment_transitions_total",
    "Payments entering a status (pending at creation); failure_reason is none unless failed.",
    ["status", "currency", "failure_reason"],
)
PAYMENT_LIFECYCLE = Histogram(
    "payments_payment_lifecycle_seconds",
    "From a payment's creation to its terminal status (completed, failed, cancelled).",
    ["status", "currency"],
    buckets=LIFECYCLE_BUCKETS,
)
REFUND_TRANSITIONS = Counter(
    "payments_refund_transitions_total",
    "Refunds entering a status (pending at creation, succeeded, failed).",
    ["status", "currency", "failure_reason"],
)

# -- Outbox (API process, refreshed at scrape time) ---------------------------------------------
OUTBOX_BACKLOG = Gauge(
    "payments_outbox_unpublished_rows",
    "Outbox rows not yet published to SNS (the same value from every API pod: use max).",
    registry=None,
)
OUTBOX_OLDEST_AGE = Gauge(
    "payments_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest unpublished outbox row, 0 when none (same from every API pod: use max).",
    registry=None,
)
OUTBOX_PUBLISHED = Counter(
    "payments_outbox_published_total",
    "Outbox rows the relay published (outcome published) or failed to publish (failed).",
    ["outcome"],
)

# -- SQS consumers ------------------------------------------------------------------------------
CONSUMER_MESSAGES = Counter(
    "payments_consumer_messages_total",
    "SQS records handled by outcome: handled, failed (retried later) or poison (never handleable).",
    ["queue", "outcome"],
)
CONSUMER_DEAD_LETTERED = Counter(
    "payments_consumer_dead_lettered_total",
    "Records that failed on their last allowed receive (maxReceiveCount): SQS moves them to the "
    "DLQ when their visibility ends.",
    ["queue"],
)
CONSUMER_LAST_POLL = Gauge(
    "payments_consumer_last_poll_timestamp_seconds",
    "When this consumer's last SQS receive returned, empty long polls included (a heartbeat: "
    "a loop that is stuck stops moving it).",
    ["queue"],
)
QUEUE_MESSAGES = Gauge(
    "payments_queue_messages",
    "SQS's approximate message count of a consumed queue and of its DLQ (queue is the DLQ's own "
    "name, dead_letter true), by state: visible (waiting) or in_flight (received, not deleted). "
    "Sampled by every consumer replica of the queue: use max.",
    ["queue", "state", "dead_letter"],
)
CONSUMER_HANDLE_DURATION = Histogram(
    "payments_consumer_handle_duration_seconds",
    "Time spent handling one SQS record, by outcome.",
    ["queue", "outcome"],
    buckets=CALL_BUCKETS,
)

# -- Webhooks -----------------------------------------------------------------------------------
WEBHOOK_ATTEMPTS = Counter(
    "payments_webhook_attempts_total",
    "Webhook POST attempts by outcome: success, http_error, gone, timeout, connection, "
    "refused_by_ssrf, unresolvable, invalid_url.",
    ["outcome"],
)
WEBHOOK_ATTEMPT_DURATION = Histogram(
    "payments_webhook_attempt_duration_seconds",
    "Webhook attempt latency, name resolution to the last byte read, by outcome.",
    ["outcome"],
    buckets=CALL_BUCKETS,
)
WEBHOOK_DELIVERIES_ENDED = Counter(
    "payments_webhook_deliveries_ended_total",
    "Deliveries reaching a final status: succeeded, or failed (retries exhausted, 410, disabled).",
    ["status"],
)
WEBHOOK_ATTEMPTS_IN_FLIGHT = Gauge(
    "payments_webhook_attempts_in_flight",
    "Webhook attempts this sender is running now.",
    registry=None,
)

# -- Gateway ------------------------------------------------------------------------------------
CONNECTOR_FALLBACKS = Counter(
    "payments_connector_fallbacks_total",
    "Connectors passed over by routing, by the connector's gateway and why: not_tokenized (it "
    "holds no token of the card; counted by the API) or the failure it had before any money was "
    "held (gateway_unavailable, gateway_timeout; counted by the worker, which then falls back).",
    ["gateway", "reason"],
)

GATEWAY_CALL_DURATION = Histogram(
    "payments_gateway_call_duration_seconds",
    "Gateway connector calls by connector, operation and outcome (success, declined, "
    "unavailable, timeout, error).",
    ["gateway", "operation", "outcome"],
    buckets=CALL_BUCKETS,
)


API_ONLY = (HTTP_REQUESTS_IN_FLIGHT, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE)
WEBHOOK_SENDER_ONLY = (WEBHOOK_ATTEMPTS_IN_FLIGHT,)


def register_once(*collectors: Collector) -> None:
    """Add collectors to the default registry; a second call (tests build many apps) is a no-op."""
    for collector in collectors:
        with suppress(ValueError):  # already registered
            REGISTRY.register(collector)


def code_label(value: str | None) -> str:
    """A machine code (`card_declined`) as a label value; anything else collapses to `other`."""
    if not value:
        return NONE
    return value if _CODE.match(value) else OTHER


def exposition() -> tuple[bytes, str]:
    """The default registry in the Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
