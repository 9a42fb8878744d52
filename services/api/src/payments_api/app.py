"""The FastAPI application: routes under /api/v1, the edge middleware, the background relay."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from payments_api.background import background_work
from payments_api.edge import EdgeMiddleware
from payments_api.errors import index_path_methods, install_error_handlers
from payments_api.metrics import METRICS_PATH, HttpMetricsMiddleware, route_templates
from payments_api.metrics import router as metrics_router
from payments_api.openapi import install_openapi
from payments_api.request_limits import RequestLimits
from payments_api.routes import (
    challenges,
    connector_notices,
    connectors,
    events,
    health,
    merchants,
    payment_methods,
    payments,
    refunds,
    webhook_endpoints,
)
from payments_api.signals import WorkflowSignals
from payments_api.state import ApiState
from payments_api.tracing import instrument_app
from payments_core.connectors.gateways import Gateways
from payments_core.db.bounds import StatementBounds
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.gateway.metered import MeteredConnector
from payments_core.gateway.sandbox import SandboxConnector
from payments_core.rate_limit.by_address import AddressLimiter
from payments_core.rate_limit.service import RateLimiter
from payments_core.settings import ApiSettings
from payments_core.webhooks.secret_box import SecretBox

PREFIX = "/api/v1"
UNLIMITED_PATHS = frozenset({f"{PREFIX}/health", f"{PREFIX}/health/ready", METRICS_PATH})

DESCRIPTION = """
Merchants create payments; a durable workflow carries each one to a terminal state; outcomes
arrive as signed webhooks. Authenticate with `X-API-Key: sk_test_…` (or `Authorization: Bearer`).
Every error uses one envelope: `{statusCode, error: {type, code, message, param}, message, path,
method, timestamp, correlationId}`. POST requests accept an `Idempotency-Key`.

Statuses: `pending` → `processing` → (`requires_action` → `processing`) → `completed` |
`authorized` | `failed`; `authorized` (`captureMethod: manual`) → `completed` (POST …/capture) |
`cancelled` (POST …/cancel) | `failed` (`authorization_expired`); before any charge → `cancelled`;
`completed` → `partially_refunded` → `refunded`. A `requires_action` payment's
`nextAction.redirectToUrl.url` is where the customer's browser authenticates.
"""


def create_app(settings: ApiSettings) -> FastAPI:
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        bounds=StatementBounds.from_settings(settings),
    )
    session_factory = create_session_factory(engine)
    rate_limiter = RateLimiter(engine, settings.rate_limit_per_minute)
    connector_box = SecretBox(settings.connector_key)
    state = ApiState(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        gateways=Gateways(
            MeteredConnector(SandboxConnector(session_factory)),
            connector_box,
            stripe_api_base=settings.stripe_api_base,
            stripe_timeout_seconds=settings.stripe_timeout_seconds,
            stripe_redirect_authentication=settings.stripe_redirect_authentication,
        ),
        rate_limiter=rate_limiter,
        signals=WorkflowSignals(settings.temporal_address, settings.temporal_namespace),
        secret_box=SecretBox(settings.webhook_encryption_key),
        connector_box=connector_box,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with background_work(state):
            yield
        await state.gateways.aclose()
        await engine.dispose()

    app = FastAPI(
        title="Payments Platform API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # Ours instead (payments_api.tracing, the Prometheus middleware, structlog): FastAPI's
        # own OpenTelemetry layer would look the global providers up, reading the environment,
        # on every request (about 5% of the API's CPU per create-payment, py-spy).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.api = state
    install_error_handlers(app)
    modules = (
        health,
        connectors,
        connector_notices,
        merchants,
        payment_methods,
        payments,
        challenges,
        refunds,
        webhook_endpoints,
        events,
    )
    routers = [module.router for module in modules]
    for router in routers:
        app.include_router(router, prefix=PREFIX)
    app.state.path_methods = index_path_methods(PREFIX, routers)
    app.include_router(metrics_router)  # where the chart's ServiceMonitor scrapes, outside /api/v1
    _install_docs(app)
    install_openapi(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "Idempotency-Key",
                           "X-Correlation-ID"],
            expose_headers=["X-Correlation-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                            "X-RateLimit-Reset", "Retry-After", "Idempotent-Replayed"],
        )  # fmt: skip
    limits = RequestLimits(
        rate_limiter,
        AddressLimiter(settings.rate_limit_per_minute),
        operator_token=settings.admin_api_token,
        fail_open=settings.rate_limit_fail_open,
    )
    app.add_middleware(
        EdgeMiddleware,
        limits=limits,
        max_body_bytes=settings.max_body_bytes,
        unlimited_paths=UNLIMITED_PATHS,
        request_timeout=settings.request_timeout_seconds,
    )
    # Counts what the edge rejects too.
    app.add_middleware(HttpMetricsMiddleware, templates=route_templates(PREFIX, routers))
    if settings.forwarded_allow_ips:
        # Outermost, and here rather than in uvicorn (__main__ turns its copy off): every layer,
        # the edge's count per address included, sees the client X-Forwarded-For names only when
        # a proxy of FORWARDED_ALLOW_IPS wrote it (the rightmost address no such proxy added),
        # and the tests, which speak ASGI to this app, exercise exactly what runs.
        trusted = list(settings.forwarded_allow_ips)
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    instrument_app(app)
    return app


def _install_docs(app: FastAPI) -> None:
    @app.get(f"{PREFIX}/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=f"{PREFIX}/openapi.json", title=app.title)

    @app.get(f"{PREFIX}/docs-json", include_in_schema=False)
    async def openapi_alias(_: Request) -> JSONResponse:
        return JSONResponse(app.openapi())
