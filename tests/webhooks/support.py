"""A real HTTP receiver for webhooks, and factories that go through the library, not the API."""

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select
from standardwebhooks.webhooks import Webhook

from payments_core.consumer.records import SqsRecord
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.db.session import transaction
from payments_core.events.envelope import Event, EventType
from payments_core.merchants.models import Merchant
from payments_core.outbox.writer import add_event
from payments_core.settings import WebhookSenderSettings
from payments_core.webhooks import endpoints
from payments_core.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from payments_core.webhooks.schemas import WebhookEndpointCreate
from payments_core.webhooks.secret_box import SecretBox
from tests.api.support import WEBHOOK_ENCRYPTION_KEY
from tests.core.consumer.support import lambda_record

Sessions = async_sessionmaker[AsyncSession]
T = TypeVar("T")

BOX = SecretBox(WEBHOOK_ENCRYPTION_KEY)


# --- the receiver -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What the receiver answers, after `delay` seconds."""

    status: int = 200
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic() when the request arrived, before any scripted delay


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        receiver = self.server.receiver
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        reply = receiver.arrived(
            Received(
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
                at=time.monotonic(),
            )
        )
        try:
            receiver.stopping.wait(reply.delay)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass  # the sender gave up (its timeout) and closed the connection
        finally:
            receiver.answered(self.path)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: "Receiver"

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.receiver.connected()
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the sender resets connections it is done with (it never reads the response body)


class Receiver:
    """A local HTTP server in a thread: records every request and answers as scripted per path.

    `script(path, Reply(500), Reply(500))` answers the first two requests to `path` with 500, then
    `then` (200 by default). It also counts connections (a TLS hello included, which never becomes
    a request) and the most requests in flight at once per path.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, list[Reply]] = {}
        self._defaults: dict[str, Reply] = {}
        self._received: list[Received] = []
        self._in_flight: Counter[str] = Counter()
        self._most_in_flight: Counter[str] = Counter()
        self.connections = 0
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()  # ends scripted delays at once
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def url(self, path: str, *, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def script(self, path: str, *replies: Reply, then: Reply | None = None) -> None:
        with self._lock:
            self._scripts[path] = list(replies)
            if then is not None:
                self._defaults[path] = then

    def requests(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [item for item in self._received if path is None or item.path == path]

    def most_in_flight(self, path: str) -> int:
        with self._lock:
            return self._most_in_flight[path]

    def in_flight(self, path: str) -> int:
        with self._lock:
            return self._in_flight[path]

    def connected(self) -> None:
        with self._lock:
            self.connections += 1

    def arrived(self, request: Received) -> Reply:
        with self._lock:
            self._received.append(request)
            self._in_flight[request.path] += 1
            self._most_in_flight[request.path] = max(
                self._most_in_flight[request.path], self._in_flight[request.path]
            )
            script = self._scripts.get(request.path)
            if script:
                return script.pop(0)
            return self._defaults.get(request.path, Reply())

    def answered(self, path: str) -> None:
        with self._lock:
            self._in_flight[path] -= 1


def verify(secret: str, request: Received) -> dict[str, Any]:
    """The body as the reference Standard Webhooks library accepts it (raises otherwise)."""
    verified: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return verified


# --- settings -----------------------------------------------------------------------------------


def sender_settings(database_url: str, **overrides: Any) -> WebhookSenderSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "webhook_encryption_key": WEBHOOK_ENCRYPTION_KEY,
        "webhook_allow_private_urls": True,
        "webhook_retry_schedule": (1, 1),
        "webhook_timeout_seconds": 5,
        "webhook_poll_seconds": 0.2,
        "log_format": "console",
    }
    values.update(overrides)
    return WebhookSenderSettings(**values)


# --- factories and readers ----------------------------------------------------------------------


async def create_merchant(sessions: Sessions) -> uuid.UUID:
    merchant = Merchant(name="Webhook Test", email=f"webhooks-{uuid.uuid4().hex}@example.test")
    async with transaction(sessions) as session:
        session.add(merchant)
    return merchant.id


async def create_endpoint(
    sessions: Sessions,
    merchant_id: uuid.UUID,
    url: str,
    *,
    enabled_events: list[str] | None = None,
) -> tuple[uuid.UUID, str]:
    """(endpoint id, its whsec_ secret); private URLs allowed so 127.0.0.1 can be registered."""
    request = WebhookEndpointCreate(url=url, enabled_events=enabled_events or ["*"])
    async with transaction(sessions) as session:
        endpoint, secret = await endpoints.create(
            session, merchant_id, request, box=BOX, allow_private=True
        )
    return endpoint.id, secret


async def record_event(
    sessions: Sessions,
    merchant_id: uuid.UUID,
    event_type: EventType = EventType.PAYMENT_COMPLETED,
) -> Event:
    """An event committed to the outbox (the event log), as the API writes one."""
    event = Event.new(event_type, merchant_id, {"payment": {"id": str(uuid.uuid4())}})
    async with transaction(sessions) as session:
        add_event(session, event)
    return event


def sqs_record(event: Event | dict[str, Any], *, message_id: str | None = None) -> SqsRecord:
    body = event.envelope() if isinstance(event, Event) else event
    return SqsRecord.from_lambda(lambda_record(message_id or str(uuid.uuid4()), json.dumps(body)))


async def delivery_of(
    sessions: Sessions, event_id: str, endpoint_id: uuid.UUID
) -> WebhookDelivery | None:
    async with sessions() as session:
        statement = select(WebhookDelivery).where(
            col(WebhookDelivery.event_id) == event_id,
            col(WebhookDelivery.endpoint_id) == endpoint_id,
        )
        return (await session.execute(statement)).scalar_one_or_none()


async def deliveries_of(sessions: Sessions, event_id: str) -> list[WebhookDelivery]:
    async with sessions() as session:
        statement = select(WebhookDelivery).where(col(WebhookDelivery.event_id) == event_id)
        return list((await session.execute(statement)).scalars())


async def attempts_of(sessions: Sessions, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    async with sessions() as session:
        statement = (
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id) == delivery_id)
            .order_by(col(WebhookAttempt.attempt_number))
        )
        return list((await session.execute(statement)).scalars())


async def endpoint_row(sessions: Sessions, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    async with sessions() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        return endpoint


async def finished(sessions: Sessions, event_id: str, endpoint_id: uuid.UUID) -> bool:
    delivery = await delivery_of(sessions, event_id, endpoint_id)
    return delivery is not None and delivery.status != "pending"


async def attempted(
    sessions: Sessions, event_id: str, endpoint_id: uuid.UUID, times: int = 1
) -> bool:
    delivery = await delivery_of(sessions, event_id, endpoint_id)
    return delivery is not None and delivery.attempt_count >= times


async def end_pending_deliveries(sessions: Sessions) -> None:
    """Deliveries are claimed across all merchants: no test's dispatcher may see another's."""
    async with transaction(sessions) as session:
        await session.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL,"
                " lease_token = NULL, completed_at = now(), last_error = 'test clean-up'"
                " WHERE status = 'pending'"
            )
        )


def on_fresh_loop(database_url: str, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run `work` with its own engine on a loop in a worker thread (for synchronous tests)."""

    async def run() -> T:
        engine = create_engine(database_url, pool_size=2)
        try:
            return await work(create_session_factory(engine))
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, run()).result()


def health_status(port: int) -> int:
    """The status /health answers on 127.0.0.1:port, 0 when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def metrics_text(port: int) -> str:
    """What /metrics answers on 127.0.0.1:port (the Prometheus text format)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        assert response.headers["content-type"].startswith("text/plain")
        return str(response.read().decode())
