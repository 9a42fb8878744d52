"""One payment is one trace: with OTLP switched on by the standard variables, the spans of all
four processes `make up` starts (API, processor, worker, webhook sender) share one trace id.

A collector stand-in (an in-process OTLP/HTTP receiver) gets whatever the services export.
"""

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.stack.conftest import pay
from tests.stack.support import running_devstack
from tests.tracing.otlp_receiver import OtlpReceiver, ReceivedSpan

EXPECTED_SERVICES = {
    "payments-api",
    "payments-processor",
    "payments-worker",
    "payments-webhook-sender",
}


def otel_env(endpoint: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }


def payment_trace_id(spans: list[ReceivedSpan], payment_id: str) -> str | None:
    """The trace of the payment's workflow run (the worker tags it with the workflow id)."""
    for span in spans:
        if span.attributes.get("temporalWorkflowID") == f"payment-{payment_id}":
            return span.trace_id
    return None


def what_is_missing(trace: list[ReceivedSpan]) -> list[str]:
    def has(service: str, wanted: Callable[[ReceivedSpan], bool]) -> bool:
        return any(span.service == service and wanted(span) for span in trace)

    checks = {
        "api: the POST /payments server span": has(
            "payments-api", lambda s: s.kind == "SERVER" and s.name == "POST /api/v1/payments"
        ),
        "api: the relay's publish span": has(
            "payments-api", lambda s: s.kind == "PRODUCER" and s.name == "send payment-events"
        ),
        "processor: the consumer span": has(
            "payments-processor",
            lambda s: s.kind == "CONSUMER" and s.name == "process payment-processing-queue",
        ),
        "worker: the workflow span": has(
            "payments-worker", lambda s: s.name == "RunWorkflow:PaymentProcessingWorkflow"
        ),
        "worker: an activity span": has(
            "payments-worker", lambda s: s.name.startswith("RunActivity:")
        ),
        "worker: a database span": has(
            "payments-worker", lambda s: s.kind == "CLIENT" and "db.system" in str(s.attributes)
        ),
        "webhooks: the intake's consumer span": has(
            "payments-webhook-sender",
            lambda s: s.kind == "CONSUMER" and s.name == "process payment-webhook-queue",
        ),
        "webhooks: an attempt span": has(
            "payments-webhook-sender", lambda s: s.kind == "CLIENT" and s.name == "webhook POST"
        ),
    }
    span_ids = {span.span_id for span in trace}
    roots = [span for span in trace if not span.parent_span_id]
    checks["one root, the API request"] = [(s.service, s.kind) for s in roots] == [
        ("payments-api", "SERVER")
    ]
    checks["every parent in the trace"] = all(
        span.parent_span_id in span_ids for span in trace if span.parent_span_id
    )
    return [what for what, found in checks.items() if not found]


@pytest.mark.slow
def test_one_payment_is_one_trace_across_the_four_services(
    database_url: str, tmp_path: Path
) -> None:
    with (
        OtlpReceiver() as collector,
        running_devstack(
            tmp_path, database_url, {**otel_env(collector.endpoint), "LOG_FORMAT": "json"}
        ) as stack,
    ):
        payment_id = pay(stack)
        # Spans leave each process in batches: poll the collector until the trace is whole.
        deadline = time.monotonic() + 30
        while True:
            trace_id = payment_trace_id(collector.spans(), payment_id)
            trace = collector.trace(trace_id) if trace_id else []
            missing = what_is_missing(trace) if trace_id else ["the workflow's spans"]
            if not missing:
                break
            assert time.monotonic() < deadline, f"missing from the payment's trace: {missing}"
            time.sleep(0.5)

    assert {span.service for span in trace} == EXPECTED_SERVICES
    # The log lines about the payment carry its trace id, in every process that handled it
    # (the test's later GETs of the payment are requests of their own, with their own traces).
    for service, event in (
        ("api", "payment.status_changed"),
        ("processor", "processor.workflow_started"),
        ("worker", "payment.status_changed"),
    ):
        lines = [json.loads(line) for line in stack.lines_from(service)]
        about = [x for x in lines if x.get("payment_id") == payment_id and x["event"] == event]
        assert about, f"{service} logged no {event} for the payment"
        assert {line.get("trace_id") for line in about} == {trace_id}, (service, about)
    # Nothing in the trace names a raw id in a span name, or carries a secret.
    for span in trace:
        assert payment_id not in span.name
        assert "sk_test_" not in str(span.attributes)
        assert "whsec_" not in str(span.attributes)
