"""HTTP request metrics and `GET /metrics`, the Prometheus scrape endpoint of the API.

The middleware is plain ASGI and sits outside the edge layer, so requests the edge rejects (429,
413) are counted too. It labels by the matched route's template (`/api/v1/payments/{payment_id}`):
routing leaves the matched route in `scope["route"]`, whose own path lacks the prefix its router
was included under, hence the `templates` index; a request no route matched counts as
`unmatched`, never as its raw path.
"""

import asyncio
import time
from collections.abc import Iterable, Mapping

import structlog
from fastapi import APIRouter
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payments_api.deps import StateDep
from payments_core.db.session import transaction
from payments_core.outbox import repository as outbox
from payments_core.telemetry.metrics import (
    API_ONLY,
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS_IN_FLIGHT,
    OTHER,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    UNMATCHED_ROUTE,
    exposition,
    register_once,
)

log = structlog.get_logger()

register_once(*API_ONLY)

METRICS_PATH = "/metrics"
BACKLOG_QUERY_TIMEOUT_SECONDS = 2.0
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

router = APIRouter()


def route_templates(prefix: str, routers: Iterable[APIRouter]) -> dict[int, str]:
    """The full template of every route included under `prefix`, by the route object's id."""
    templates = {}
    for router in routers:
        for route in router.routes:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                templates[id(route)] = prefix + path
    return templates


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, *, templates: Mapping[int, str]) -> None:
        self.app = app
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what a request that never answered counts as
        began = time.perf_counter()

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        HTTP_REQUESTS_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            HTTP_REQUESTS_IN_FLIGHT.dec()
            method = scope["method"] if scope["method"] in _METHODS else OTHER
            HTTP_REQUEST_DURATION.labels(
                route=self._template(scope), method=method, status=str(status)
            ).observe(time.perf_counter() - began)

    def _template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE
        path = self.templates.get(id(route), getattr(route, "path", None))
        return path if isinstance(path, str) else UNMATCHED_ROUTE


@router.get(METRICS_PATH, include_in_schema=False)
async def metrics(state: StateDep) -> Response:
    """Never authenticated, never rate limited (UNLIMITED_PATHS): Prometheus scrapes it."""
    await _refresh_outbox_gauges(state)
    body, content_type = exposition()
    return Response(body, media_type=content_type)


async def _refresh_outbox_gauges(state: StateDep) -> None:
    """One cheap query at scrape time (the partial index `ix_outbox_unpublished`); when the
    database does not answer, the gauges keep their last values and the scrape still succeeds."""
    try:
        async with asyncio.timeout(BACKLOG_QUERY_TIMEOUT_SECONDS):
            async with transaction(state.session_factory) as session:
                backlog = await outbox.backlog(session)
    except Exception as error:
        log.warning("api.outbox_backlog_unavailable", error_type=type(error).__name__)
        return
    OUTBOX_BACKLOG.set(backlog.count)
    OUTBOX_OLDEST_AGE.set(backlog.oldest_age_seconds)
