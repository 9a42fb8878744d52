"""Server spans for the API: one per request, named by method and route template.

`POST /api/v1/payments`, `GET /api/v1/payments/{payment_id}`: never a raw id in the name (it is
in the URL attribute only). No headers are recorded (API keys travel in them), nor bodies.
Probes and scrapes are left out unless OTEL_PYTHON_FASTAPI_EXCLUDED_URLS says otherwise.
"""

import os

from fastapi import FastAPI

from payments_core.telemetry.tracing import tracing_active

# Regular expressions searched in the URL, comma-separated (the instrumentation's format).
UNTRACED_URLS = "/api/v1/health,/metrics"
_EXCLUDED_URLS_VARIABLES = ("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS")


def instrument_app(app: FastAPI) -> None:
    """A no-op while tracing is off."""
    if not tracing_active():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    configured = any(os.environ.get(variable) for variable in _EXCLUDED_URLS_VARIABLES)
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=None if configured else UNTRACED_URLS,
        # The ASGI receive/send sub-spans add nothing but volume here.
        exclude_spans=["receive", "send"],
    )
