"""A LISTEN connection that survives restarts of PostgreSQL and dropped networks.

NOTIFY only reaches connections listening at the moment of commit, so after every (re)connect
the listener reports one wake-up: rows committed while it was away are looked for at once.
"""

import asyncio
from collections.abc import Callable

import asyncpg
import structlog

from payments_core.outbox.backoff import retry_delay

log = structlog.get_logger(__name__)

OUTBOX_CHANNEL = "outbox_new"
CONNECT_TIMEOUT_SECONDS = 10.0
# A half-open TCP connection raises no error by itself; a cheap query every so often finds it.
HEALTH_CHECK_INTERVAL_SECONDS = 30.0


class NotificationListener:
    """Calls `on_notify` for each NOTIFY on `channel` (and after each reconnect) until cancelled."""

    def __init__(
        self,
        dsn: str,
        on_notify: Callable[[], None],
        *,
        channel: str = OUTBOX_CHANNEL,
        health_check_interval: float = HEALTH_CHECK_INTERVAL_SECONDS,
    ) -> None:
        self._dsn = dsn
        self._on_notify = on_notify
        self._channel = channel
        self._health_check_interval = health_check_interval
        self.connected = asyncio.Event()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen_until_lost()
                failures = 0
            except Exception as error:
                failures += 1
                log.warning(
                    "outbox.listen_failed",
                    channel=self._channel,
                    error=f"{type(error).__name__}: {error}",
                    failures=failures,
                )
            self.connected.clear()
            await asyncio.sleep(retry_delay(failures))

    async def _listen_until_lost(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_SECONDS)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(self._channel, self._notified)
            self.connected.set()
            self._on_notify()
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), self._health_check_interval)
                except TimeoutError:
                    await connection.execute("SELECT 1", timeout=CONNECT_TIMEOUT_SECONDS)
            log.warning("outbox.listen_connection_lost", channel=self._channel)
        finally:
            # terminate() needs no round trip, so it also works while being cancelled.
            connection.terminate()

    def _notified(self, *_args: object) -> None:
        self._on_notify()
