"""Keep-alive connections for webhooks: reused for the same vetted address and host name only,
never past the SSRF guard, and bounded. Names resolve through the fake resolver, to loopback."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from payments_core.secret import Secret
from payments_core.webhooks.attempt import attempt_delivery
from payments_core.webhooks.connections import PinnedConnections
from payments_core.webhooks.deliveries import AttemptResult
from payments_core.webhooks.signing import generate_secret
from tests.core.webhooks.test_ssrf import fake_dns  # noqa: F401 - fixture

FakeDns = dict[str, list[str]]


class KeepAliveServer:
    """HTTP/1.1 with keep-alive on one address: counts connections and the Host of each
    request, and answers 204."""

    def __init__(self) -> None:
        self.connections = 0
        self.hosts: list[str] = []
        self.closed = 0
        self._servers: list[asyncio.Server] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                headers = dict(
                    (name.strip().lower(), value.strip())
                    for name, _, value in (line.partition(":") for line in head.split("\r\n")[1:])
                )
                await reader.readexactly(int(headers.get("content-length", "0")))
                self.hosts.append(headers["host"])
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed += 1
        finally:
            writer.close()

    async def listen(self, host: str, port: int = 0) -> int:
        server = await asyncio.start_server(self._handle, host, port)
        self._servers.append(server)
        bound: int = server.sockets[0].getsockname()[1]
        return bound

    async def close(self) -> None:
        for server in self._servers:
            server.close()


@pytest.fixture
async def servers() -> AsyncIterator[tuple[KeepAliveServer, KeepAliveServer]]:
    first, second = KeepAliveServer(), KeepAliveServer()
    yield first, second
    await first.close()
    await second.close()


@pytest.fixture
async def connections() -> AsyncIterator[PinnedConnections]:
    pool = PinnedConnections()
    yield pool
    await pool.aclose()


async def merchant_url(
    server: KeepAliveServer, dns: FakeDns, name: str = "merchant.example"
) -> str:
    """A URL whose name resolves (in the fake resolver) to `server`, listening on 127.0.0.1."""
    port = await server.listen("127.0.0.1")
    dns[name] = ["127.0.0.1"]
    return f"http://{name}:{port}/hooks"


async def send(
    connections: PinnedConnections, url: str, *, allow_private: bool = True
) -> AttemptResult:
    return await attempt_delivery(
        connections,
        url=url,
        event_id="evt_1",
        body=b"{}",
        secrets=[Secret(generate_secret())],
        allow_private=allow_private,
        timeout_seconds=5,
    )


async def test_a_second_post_to_the_same_host_reuses_the_connection(
    servers: tuple[KeepAliveServer, KeepAliveServer],
    connections: PinnedConnections,
    fake_dns: FakeDns,  # noqa: F811 - the fixture
) -> None:
    server, _ = servers
    url = await merchant_url(server, fake_dns)

    assert (await send(connections, url)).status_code == 204
    assert (await send(connections, url)).status_code == 204

    assert server.hosts == [httpx.URL(url).netloc.decode()] * 2
    assert server.connections == 1


async def test_a_changed_dns_answer_is_not_served_by_the_pooled_connection(
    servers: tuple[KeepAliveServer, KeepAliveServer],
    connections: PinnedConnections,
    fake_dns: FakeDns,  # noqa: F811 - the fixture
) -> None:
    old, new = servers
    url = await merchant_url(old, fake_dns)
    await new.listen("127.0.0.2", httpx.URL(url).port or 80)
    assert (await send(connections, url)).status_code == 204

    fake_dns["merchant.example"] = ["127.0.0.2"]
    assert (await send(connections, url)).status_code == 204

    assert (old.connections, len(old.hosts)) == (1, 1)
    assert (new.connections, len(new.hosts)) == (1, 1)


async def test_a_now_private_address_is_refused_although_a_connection_is_pooled(
    servers: tuple[KeepAliveServer, KeepAliveServer],
    connections: PinnedConnections,
    fake_dns: FakeDns,  # noqa: F811 - the fixture
) -> None:
    server, _ = servers
    url = await merchant_url(server, fake_dns)
    assert (await send(connections, url)).status_code == 204
    assert connections.idle_connections == 1

    refused = await send(connections, url, allow_private=False)

    assert refused.status_code is None
    assert refused.error is not None and refused.error.startswith("url_forbidden: ")
    assert len(server.hosts) == 1


async def test_another_host_name_on_the_same_address_gets_its_own_connection(
    servers: tuple[KeepAliveServer, KeepAliveServer],
    connections: PinnedConnections,
    fake_dns: FakeDns,  # noqa: F811 - the fixture
) -> None:
    # Over TLS a connection's certificate was checked for the name it was opened for.
    server, _ = servers
    port = await server.listen("127.0.0.1")
    fake_dns["one.example"] = fake_dns["two.example"] = ["127.0.0.1"]

    await send(connections, f"http://one.example:{port}/hooks")
    await send(connections, f"http://two.example:{port}/hooks")
    await send(connections, f"http://one.example:{port}/hooks")

    assert server.hosts == [f"{name}.example:{port}" for name in ("one", "two", "one")]
    assert server.connections == 2


async def test_idle_connections_are_bounded_per_host_and_in_all(
    servers: tuple[KeepAliveServer, KeepAliveServer],
    fake_dns: FakeDns,  # noqa: F811 - the fixture
) -> None:
    server, _ = servers
    port = await server.listen("127.0.0.1")
    names = ["a.example", "b.example", "c.example"]
    for name in names:
        fake_dns[name] = ["127.0.0.1"]
    connections = PinnedConnections(per_host=2, max_idle=3)
    try:
        await asyncio.gather(*(send(connections, f"http://a.example:{port}/") for _ in range(4)))
        assert (server.connections, connections.idle_connections) == (4, 2)

        for name in names[1:]:
            await send(connections, f"http://{name}:{port}/")
        # a.example was the least recently used: one of its two went to make room.
        assert (server.connections, connections.idle_connections) == (6, 3)
        await asyncio.sleep(0.1)
        assert server.closed == 3  # the two over a's cap, and the one evicted
    finally:
        await connections.aclose()


async def test_an_idle_connection_expires(
    servers: tuple[KeepAliveServer, KeepAliveServer],
    fake_dns: FakeDns,  # noqa: F811 - the fixture
) -> None:
    server, _ = servers
    port = await server.listen("127.0.0.1")
    fake_dns["merchant.example"] = fake_dns["other.example"] = ["127.0.0.1"]
    connections = PinnedConnections(idle_seconds=0.05)
    try:
        await send(connections, f"http://merchant.example:{port}/")
        await asyncio.sleep(0.2)
        # Any later request sweeps the expired connection, whatever host it is for.
        await send(connections, f"http://other.example:{port}/")
        await asyncio.sleep(0.1)
        assert server.closed == 1
        assert connections.idle_connections == 1
    finally:
        await connections.aclose()
