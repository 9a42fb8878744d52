"""A TCP relay in front of the real PostgreSQL that a test can cut: the database "restarts"
for the worker under test (connections dropped, new ones refused) and no other test sees it."""

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

from payments_devstack.processes import find_free_port

CHUNK = 65536


class DatabaseRelay:
    def __init__(self, database_url: str) -> None:
        target = urlsplit(database_url)
        assert target.hostname and target.port, database_url
        self._target = (target.hostname, target.port)
        self.port = find_free_port()
        netloc = target.netloc.replace(f":{target.port}", f":{self.port}")
        self.database_url = urlunsplit(target._replace(netloc=netloc))
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._relay, "127.0.0.1", self.port, reuse_address=True
        )

    async def cut(self) -> None:
        """Refuse new connections and drop every open one, as a crashed server would."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def stop(self) -> None:
        await self.cut()

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        try:
            server_in, server_out = await asyncio.open_connection(*self._target)
        except OSError:
            client_out.transport.abort()
            return
        self._open |= {client_out, server_out}
        try:
            await asyncio.gather(_pipe(client_in, server_out), _pipe(server_in, client_out))
        finally:
            for writer in (client_out, server_out):
                self._open.discard(writer)
                writer.transport.abort()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()
