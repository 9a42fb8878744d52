"""The outermost ASGI layer: correlation ids, security headers, body limit, rate limit, the
request deadline, 500s.

Written as plain ASGI (not BaseHTTPMiddleware) because it runs on every request; it also turns
unexpected exceptions into the contract's 500 envelope so no response escapes without headers.
Which count a request is held to, per key or per address, is request_limits.py's to decide.

The deadline (REQUEST_TIMEOUT_SECONDS) covers everything the request does, the rate limit's
statement included, and runs in the request's own task: when it passes, the work is cancelled
where it waits, its session or driver connection rolls back on the way out (and its
Idempotency-Key is released), and the caller gets 503 `request_timeout`. A database statement or
lock timeout reaching this layer answers the same.
"""

import asyncio
import json
import re
import time
import uuid
from collections.abc import Awaitable
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payments_api.request_limits import RequestLimits
from payments_api.responses import error_body
from payments_core.db.bounds import timed_out
from payments_core.errors import (
    PayloadTooLarge,
    PaymentsError,
    RateLimited,
    RequestTimedOut,
    ServiceUnavailable,
)

log = structlog.get_logger()

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
_VALID_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# What completed was committed and stored on its Idempotency-Key; the rest was rolled back.
_TIMED_OUT = "the request timed out; retry it with the same Idempotency-Key"


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RequestLimits,
        max_body_bytes: int,
        unlimited_paths: frozenset[str],
        request_timeout: float,
    ) -> None:
        self.app = app
        self.limits = limits
        self.max_body_bytes = max_body_bytes
        self.unlimited_paths = unlimited_paths
        self.request_timeout = request_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        correlation_id = headers.get("x-correlation-id", "")
        if not _VALID_CORRELATION_ID.match(correlation_id):
            correlation_id = str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        extra_headers = [*SECURITY_HEADERS, (b"x-correlation-id", correlation_id.encode())]
        started = False
        began = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *extra_headers]
                if scope["path"] not in self.unlimited_paths:  # probes would drown the log
                    log.info(
                        "api.request",
                        method=scope["method"],
                        path=scope["path"],
                        status=message["status"],
                        duration_ms=round((time.perf_counter() - began) * 1000, 1),
                        **_ids_in_path(scope),
                    )
            await send(message)

        def reject(error: PaymentsError) -> Awaitable[None]:
            body = error_body(
                status_code=error.status_code,
                error_type=error.error_type,
                code=error.code,
                message=error.message,
                param=error.param,
                path=scope["path"],
                method=scope["method"],
                correlation_id=correlation_id,
            )
            return _send_json(send_with_headers, error.status_code, body)

        with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
            try:
                async with asyncio.timeout(self.request_timeout):
                    declared = headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.max_body_bytes:
                        await reject(PayloadTooLarge(self._too_large()))
                        return
                    if scope["path"] not in self.unlimited_paths:
                        try:
                            limit = await self.limits.count(scope, _credential(headers))
                        except ServiceUnavailable as error:  # RATE_LIMIT_FAIL_OPEN=false
                            await reject(error)
                            return
                        extra_headers.extend(
                            (name.lower().encode(), value.encode())
                            for name, value in limit.headers().items()
                        )
                        if limit.exceeded:
                            retry_after = str(limit.retry_after()).encode()
                            extra_headers.append((b"retry-after", retry_after))
                            await reject(RateLimited("too many requests"))
                            return
                    await self.app(scope, self._limited(receive), send_with_headers)
            except Exception as error:
                if timed_out(error):  # the deadline's TimeoutError, or a database timeout's
                    log.warning(
                        "api.request_timed_out",
                        path=scope["path"],
                        method=scope["method"],
                        error=type(error).__name__,
                        deadline_seconds=self.request_timeout,
                    )
                    if not started:
                        await reject(RequestTimedOut(_TIMED_OUT))
                    return
                log.exception("api.unhandled_error", path=scope["path"], method=scope["method"])
                if not started:
                    await reject(PaymentsError("an internal error occurred"))

    def _too_large(self) -> str:
        return f"request body must be at most {self.max_body_bytes // 1024} KiB"

    def _limited(self, receive: Receive) -> Receive:
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # An HTTPException survives FastAPI's body parsing and reaches our handler.
                    raise HTTPException(413, self._too_large())
            return message

        return receive_limited


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def _credential(headers: dict[str, str]) -> str:
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _ids_in_path(scope: Scope) -> dict[str, str]:
    """The ids the router found in the path (payment_id, ...): one object's lines, greppable."""
    params = scope.get("path_params") or {}
    return {name: str(value) for name, value in params.items() if name.endswith("_id")}
