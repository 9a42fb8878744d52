"""Log lines as the services write them: one JSON object per line, the libraries' lines too,
trace and span ids inside a span, bound context, and secrets masked wherever they hide."""

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from payments_core.telemetry.logging import configure_logging

CARD = "4242424242424242"
KEY = "sk_test_abcdefghijklmnopqrstuvwx"
SECRET = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"

Lines = Callable[[], list[dict[str, object]]]


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)

    def read() -> list[dict[str, object]]:
        return [json.loads(line) for line in out.getvalue().splitlines() if line]

    yield read
    structlog.reset_defaults()
    root.handlers, root.level = handlers, level


def test_lines_in_a_span_carry_its_trace_and_span_ids(json_lines: Lines) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        structlog.get_logger().info("ours")
        logging.getLogger("temporalio.worker").warning("theirs")
    structlog.get_logger().info("outside")
    context = span.get_span_context()
    ours, theirs, outside = json_lines()
    for line in (ours, theirs):
        assert line["trace_id"] == format(context.trace_id, "032x")
        assert line["span_id"] == format(context.span_id, "016x")
    assert theirs["logger"] == "temporalio.worker" and theirs["level"] == "warning"
    assert "trace_id" not in outside


def test_bound_ids_reach_every_line_of_the_context(json_lines: Lines) -> None:
    with structlog.contextvars.bound_contextvars(correlation_id="c-1", payment_id="p-1"):
        structlog.get_logger().info("ours")
        logging.getLogger("sqlalchemy").warning("theirs")
    for line in json_lines():
        assert (line["correlation_id"], line["payment_id"]) == ("c-1", "p-1")


def test_secrets_are_masked_in_fields_messages_nested_values_and_tracebacks(
    json_lines: Lines,
) -> None:
    structlog.get_logger().info(f"card {CARD}", key=KEY, details={"secrets": [SECRET]})
    logging.getLogger("uvicorn.error").info("GET /api/v1/payments/by-reference/%s", CARD)
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError:
        logging.getLogger("payments").exception("failed")
    text = json.dumps(json_lines())
    assert text.count("[REDACTED]") >= 5
    for secret in (CARD, KEY, SECRET):
        assert secret not in text


def test_ids_whose_digits_look_like_cards_reach_every_line_whole(json_lines: Lines) -> None:
    # Each once garbled: a Luhn-valid run of digits across the uuid's groups, or a whole group.
    ids = {
        "payment_id": "f38b8edd-0272-4d12-8345-6789016a8b90",
        "correlation_id": "3f2c9e1a-b7d4-4c8e-a5f0-424242424242",
        "event_id": "evt_4242424242424242",
        "workflow_id": "payment-12345678-1234-4123-8123-123456789012",
    }
    with structlog.contextvars.bound_contextvars(**ids):
        structlog.get_logger().info(f"payment {ids['payment_id']} settled")
        logging.getLogger("temporalio.workflow").info("workflow %s done", ids["workflow_id"])
    ours, theirs = json_lines()
    for line in (ours, theirs):
        assert {key: line[key] for key in ids} == ids
    assert ours["event"] == f"payment {ids['payment_id']} settled"
    assert theirs["event"] == f"workflow {ids['workflow_id']} done"
