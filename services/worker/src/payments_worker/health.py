"""A tiny HTTP endpoint for probes and Prometheus: `GET /health` answers 200 while the worker
runs, `GET /metrics` the process's metrics (ours and the Temporal SDK's).

Plain asyncio, no framework: the worker has no other HTTP surface. More routes are added by
passing them in `routes`. Port 0 disables the server.
"""

import asyncio
import json
from collections.abc import Callable, Mapping
from http import HTTPStatus

import structlog

from payments_core.telemetry.metrics import exposition

log = structlog.get_logger()

READ_TIMEOUT_SECONDS = 5.0
MAX_HEADER_LINES = 100

# A route answers (status, content type, body).
Route = Callable[[], tuple[HTTPStatus, str, bytes]]


def health_route() -> tuple[HTTPStatus, str, bytes]:
    return HTTPStatus.OK, "application/json", json.dumps({"status": "ok"}).encode()


def metrics_route() -> tuple[HTTPStatus, str, bytes]:
    body, content_type = exposition()
    return HTTPStatus.OK, content_type, body


class HealthServer:
    def __init__(
        self,
        port: int,
        host: str = "0.0.0.0",  # noqa: S104 - probes reach the container from outside
        routes: Mapping[str, Route] | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._routes: dict[str, Route] = {
            "/health": health_route,
            "/metrics": metrics_route,
            **(routes or {}),
        }
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int | None:
        """The bound port (useful with an ephemeral one), None when not serving."""
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        if self._port == 0:
            return
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        log.info("worker.health_listening", port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                status, content_type, body = await self._answer(reader)
            writer.write(_response(status, content_type, body))
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass  # a probe that hung up or spoke nonsense gets nothing
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[HTTPStatus, str, bytes]:
        request_line = (await reader.readline()).decode("latin-1").split()
        for _ in range(MAX_HEADER_LINES):  # drain the headers; none of them matter here
            if (await reader.readline()) in (b"\r\n", b"\n", b""):
                break
        if len(request_line) != 3:
            return _error(HTTPStatus.BAD_REQUEST)
        method, target, _ = request_line
        route = self._routes.get(target.split("?", 1)[0])
        if route is None:
            return _error(HTTPStatus.NOT_FOUND)
        if method != "GET":
            return _error(HTTPStatus.METHOD_NOT_ALLOWED)
        return route()


def _error(status: HTTPStatus) -> tuple[HTTPStatus, str, bytes]:
    body = json.dumps({"status": "error", "message": status.phrase}).encode()
    return status, "application/json", body


def _response(status: HTTPStatus, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body
