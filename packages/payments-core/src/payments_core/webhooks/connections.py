"""Keep-alive connections for webhook POSTs, each pinned to one vetted address and host name.

A connection is reused only by a request for the same (scheme, vetted IP, port, host name): the
SSRF guard still vets the URL before every attempt (`ssrf.vet_webhook_url`), and a DNS answer
that changed gives a key with another IP, so a new connection to the newly vetted address. The
host name is in the key because a TLS connection's certificate was checked against the name it
was opened for; httpx's own pool keys on the URL's origin, which for a pinned request is the IP
alone, so it would let one merchant's request ride a connection verified for another name on
the same address. Finding a connection here is O(1); httpx's pool scanned (and polled the socket
of) every pooled connection on each request and each response, a fifth of the sender's CPU in
`make bench`.

Bounds, so thousands of merchants cannot hold thousands of sockets: at most `per_host` idle
connections per key and `max_idle` in all (the least recently used key's go first), each closed
once idle for `idle_seconds` (checked when taken, and by a sweep at most every `idle_seconds`).
Connections in use are bounded by the sender's concurrency. Redirects are never followed: this
sends exactly one request and hands back its response.
"""

import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpcore
import httpx

from payments_core.webhooks.ssrf import VettedTarget, pinned_request_args

Connection = httpcore.AsyncHTTPConnection


@dataclass(frozen=True, slots=True)
class _Key:
    scheme: str
    ip: str
    port: int
    hostname: str


class PinnedConnections:
    def __init__(
        self,
        *,
        per_host: int = 4,
        max_idle: int = 256,
        idle_seconds: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._per_host = per_host
        self._max_idle = max_idle
        self._idle_seconds = idle_seconds
        # One context for every connection: building one loads the CA bundle (milliseconds).
        self._ssl = ssl_context or httpx.create_ssl_context()
        self._idle: OrderedDict[_Key, list[Connection]] = OrderedDict()
        self._idle_count = 0
        self._next_sweep = time.monotonic() + idle_seconds

    @property
    def idle_connections(self) -> int:
        return self._idle_count

    @asynccontextmanager
    async def post(
        self,
        target: VettedTarget,
        headers: dict[str, str],
        body: bytes,
        timeout_seconds: float,
    ) -> AsyncIterator[httpcore.Response]:
        """POST `body` to the vetted address of `target`; the response is streamed, and closed
        (its connection kept for reuse if it is still good) when the block ends."""
        url, host_headers, extensions = pinned_request_args(target)
        request = httpcore.Request(
            b"POST",
            url,
            # httpcore frames the body by the headers it is given, unlike httpx.
            headers=[
                *headers.items(),
                *host_headers.items(),
                ("content-length", str(len(body))),
            ],
            content=body,
            extensions={**extensions, "timeout": _timeouts(timeout_seconds)},
        )
        key = _Key(target.scheme, str(target.ip), target.port, target.hostname)
        connection = await self._take(key, request.url.origin)
        try:
            response = await connection.handle_async_request(request)
            try:
                yield response
            finally:
                await response.aclose()
        finally:
            await self._give_back(key, connection)

    async def aclose(self) -> None:
        idle = [connection for connections in self._idle.values() for connection in connections]
        self._idle.clear()
        self._idle_count = 0
        for connection in idle:
            await connection.aclose()

    async def _take(self, key: _Key, origin: httpcore.Origin) -> Connection:
        await self._sweep()
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to have expired
            self._idle_count -= 1
            if connection.is_available() and not connection.has_expired():
                return connection
            await connection.aclose()
        return Connection(origin, ssl_context=self._ssl, keepalive_expiry=self._idle_seconds)

    async def _give_back(self, key: _Key, connection: Connection) -> None:
        # Anything but a clean, idle HTTP/1.1 connection (an error, a body cut short, the server's
        # `Connection: close`) is closed rather than kept.
        if not connection.is_available():
            await connection.aclose()
            return
        idle = self._idle.setdefault(key, [])
        self._idle.move_to_end(key)
        if len(idle) >= self._per_host:
            await connection.aclose()
            return
        idle.append(connection)
        self._idle_count += 1
        while self._idle_count > self._max_idle:
            await self._close_oldest()

    async def _close_oldest(self) -> None:
        key, idle = next(iter(self._idle.items()))
        if idle:
            self._idle_count -= 1
            await idle.pop(0).aclose()
        if not idle:
            del self._idle[key]

    async def _sweep(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._idle_seconds
        for key, idle in list(self._idle.items()):
            expired = [connection for connection in idle if connection.has_expired()]
            for connection in expired:
                idle.remove(connection)
                self._idle_count -= 1
                await connection.aclose()
            if not idle:
                del self._idle[key]


def _timeouts(seconds: float) -> dict[str, float]:
    # httpcore's phases would otherwise wait without bound; the attempt's own asyncio timeout
    # bounds the whole attempt as well.
    return {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
