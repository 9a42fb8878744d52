"""When tracing is on, what a service installs, and that it is off (and installs nothing)
without the OTEL_* variables."""

import os
import subprocess
import sys
import textwrap
import time

import pytest
from opentelemetry import trace

from payments_core.telemetry.tracing import (
    API_SERVICE,
    configure_tracing,
    current_traceparent,
    tracing_active,
    tracing_requested,
    tracing_resource,
)
from tests.tracing.otlp_receiver import OtlpReceiver

ENDPOINT = "http://127.0.0.1:4318"


@pytest.mark.parametrize(
    ("environ", "requested"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_BSP_SCHEDULE_DELAY": "100"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{ENDPOINT}/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "false"}, True),
    ],
)
def test_which_variables_switch_tracing_on(environ: dict[str, str], requested: bool) -> None:
    assert tracing_requested(environ) is requested


def _without_otel(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    "extra", [{}, {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}]
)
def test_tracing_off_installs_nothing_and_writes_no_traceparent(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, str]
) -> None:
    _without_otel(monkeypatch)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    provider_before = trace.get_tracer_provider()

    tracing = configure_tracing(API_SERVICE)

    assert not tracing.enabled
    assert not tracing_active()
    assert trace.get_tracer_provider() is provider_before
    # Even inside a span of whatever provider the process has, nothing is written.
    with trace.get_tracer("test").start_as_current_span("outer"):
        assert current_traceparent() is None
    tracing.flush()
    tracing.shutdown()


def test_each_service_names_itself_unless_the_environment_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without_otel(monkeypatch)
    assert tracing_resource("payments-api").attributes["service.name"] == "payments-api"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes,team=payments")
    resource = tracing_resource("payments-api")
    assert resource.attributes["service.name"] == "from-attributes"
    assert resource.attributes["team"] == "payments"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-service-name")
    assert tracing_resource("payments-api").attributes["service.name"] == "from-service-name"


EXPORT_ONE_SPAN = textwrap.dedent(
    """
    from opentelemetry import trace
    from payments_core.telemetry.tracing import (
        WORKER_SERVICE, configure_tracing, current_traceparent, tracer,
    )

    tracing = configure_tracing(WORKER_SERVICE)
    assert tracing.enabled
    with tracer().start_as_current_span("one unit of work"):
        print(current_traceparent())
    tracing.shutdown()
    """
)


def test_a_service_exports_its_spans_over_otlp_http_on_shutdown() -> None:
    with OtlpReceiver() as receiver:
        environ = {name: value for name, value in os.environ.items() if not name.startswith("OTEL")}
        environ |= {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            # Far longer than the test: only the shutdown's flush can deliver the span.
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
        }
        done = subprocess.run(
            [sys.executable, "-c", EXPORT_ONE_SPAN],
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 10
        while not receiver.spans():
            assert time.monotonic() < deadline, "no span arrived"
            time.sleep(0.05)

    [span] = receiver.spans()
    assert span.service == "payments-worker"
    assert span.name == "one unit of work"
    version, trace_id, span_id, _ = done.stdout.strip().splitlines()[-1].split("-")
    assert (version, trace_id, span_id) == ("00", span.trace_id, span.span_id)
