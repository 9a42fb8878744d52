"""A tiny HTTP endpoint for consumer processes: `GET /health` → 200 while healthy, else 503;
`GET /metrics` → the process's Prometheus metrics.

Plain asyncio, no framework: it answers one request and closes the connection.
"""

import asyncio
import contextlib
import json
from collections.abc import Callable

import structlog

from payments_core.telemetry.metrics import exposition

log = structlog.get_logger("payments_core.consumer")

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
_READ_TIMEOUT_SECONDS = 5.0


class HealthServer:
    def __init__(self, is_healthy: Callable[[], bool], *, host: str, port: int) -> None:
        self._is_healthy = is_healthy
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port: tests bind port 0 for a free one (services treat 0 as disabled)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info("health.listening", host=self._host, port=self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT_SECONDS)
            parts = request_line.decode("latin-1").split()
            method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
            status, content_type, body = self._answer(method, path.split("?", 1)[0])
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
                f"Content-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            writer.write(head if method == "HEAD" else head + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _answer(self, method: str, path: str) -> tuple[int, str, bytes]:
        if path not in ("/health", "/metrics"):
            status = 404
        elif method not in ("GET", "HEAD"):
            status = 405
        elif path == "/metrics":
            body, content_type = exposition()
            return 200, content_type, body
        else:
            status = 200 if self._is_healthy() else 503
        body = json.dumps({"status": "ok" if status == 200 else "unavailable"}).encode()
        return status, "application/json", body
