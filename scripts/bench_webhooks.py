"""How many webhook deliveries per second one DeliveryDispatcher sends.

    uv run python scripts/bench_webhooks.py [--deliveries 2000] [--endpoints 1,20]

Starts a throwaway embedded PostgreSQL (or uses --database-url), migrates it, and runs a receiver
in a separate process that answers 200 at once. For each endpoint count it commits N events
spread evenly over that many endpoints (one merchant each) and their N pending deliveries, then
times the dispatcher from its start until the last delivery is recorded `succeeded`. Every
delivery is a real signed HTTP POST over TCP, a claim (committed, often with others) and its
recorded result (group-committed with the results that arrive meanwhile). The baseline sends the
same signed POSTs through the sender's own keep-alive connections, with no database.

With the defaults (WEBHOOK_CONCURRENCY=64, WEBHOOK_ENDPOINT_CONCURRENCY=4) one endpoint is held
to 4 attempts in flight; each run's baseline sends with the limit the sender has for its endpoints
(4 for one endpoint, 64 for twenty), so the ratio prices the sender's own work, not the cap.
"""

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payments_core.db.engine import create_engine, create_session_factory
from payments_core.db.session import transaction
from payments_core.events.envelope import Event, EventType
from payments_core.merchants.models import Merchant
from payments_core.migrations.runner import upgrade
from payments_core.outbox.writer import add_event
from payments_core.secret import Secret
from payments_core.settings import WebhookSenderSettings
from payments_core.telemetry.logging import configure_logging
from payments_core.webhooks import endpoints
from payments_core.webhooks.attempt import new_connections
from payments_core.webhooks.deliveries import enqueue_for_event
from payments_core.webhooks.schemas import WebhookEndpointCreate
from payments_core.webhooks.secret_box import SecretBox, new_key
from payments_core.webhooks.signing import generate_secret, webhook_headers
from payments_core.webhooks.ssrf import vet_url
from payments_devstack.postgres import EmbeddedPostgres
from payments_devstack.processes import find_free_port
from payments_webhook_sender.dispatcher import DeliveryDispatcher

Sessions = async_sessionmaker[AsyncSession]
_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
TARGET_RATIO = 0.8  # issue 16: to 1 and to 20 endpoints


# --- the receiver (its own process, so it does not share the sender's event loop) ---------------


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            await reader.readexactly(length)
            writer.write(_OK)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(port: int) -> None:
    server = await asyncio.start_server(_answer, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until the receiver accepts connections: an early attempt refused would be retried 5 s
    later and skew the figure."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the receiver process exited")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("the receiver never listened")


# --- the benchmark ------------------------------------------------------------------------------


async def _prepare(
    sessions: Sessions, box: SecretBox, url: str, deliveries: int, endpoint_count: int
) -> list[uuid.UUID]:
    """N committed events over `endpoint_count` merchants (returned: each run has its own), and
    their pending deliveries."""
    merchants = [
        Merchant(name="Bench", email=f"bench-{uuid.uuid4().hex}@example.test")
        for _ in range(endpoint_count)
    ]
    async with transaction(sessions) as session:
        session.add_all(merchants)
    async with transaction(sessions) as session:
        for merchant in merchants:
            request = WebhookEndpointCreate(url=url)
            await endpoints.create(session, merchant.id, request, box=box, allow_private=True)
    events = [
        Event.new(
            EventType.PAYMENT_COMPLETED,
            merchants[index % endpoint_count].id,
            {"payment": {"id": str(uuid.uuid4()), "amount": 10_000, "currency": "NGN"}},
        )
        for index in range(deliveries)
    ]
    async with transaction(sessions) as session:
        for event in events:
            add_event(session, event)
    async with transaction(sessions) as session:
        for event in events:
            await enqueue_for_event(session, event.id)
    async with transaction(sessions) as session:
        # Planner statistics, as autovacuum would have them on a table that grew gradually.
        await session.execute(text("ANALYZE outbox, webhook_endpoints, webhook_deliveries"))
    return [merchant.id for merchant in merchants]


async def _succeeded(sessions: Sessions, merchant_ids: list[uuid.UUID]) -> int:
    # By merchant (at most 20 ids), not by event: binding thousands of event ids every 20 ms
    # cost the bench's process a noticeable share of the CPU it reports for the sender.
    async with sessions() as session:
        result = await session.execute(
            text(
                "SELECT count(*) FROM webhook_deliveries"
                " WHERE merchant_id = ANY(:ids) AND status = 'succeeded'"
            ),
            {"ids": merchant_ids},
        )
        return int(result.scalar_one())


async def _run_once(
    sessions: Sessions, settings: WebhookSenderSettings, url: str, deliveries: int, endpoints: int
) -> tuple[float, float]:
    """Seconds until every delivery succeeded, and this process's CPU seconds meanwhile (the
    dispatcher, plus the bench's own polling for the count, a small share)."""
    box = SecretBox(settings.webhook_encryption_key)
    merchant_ids = await _prepare(sessions, box, url, deliveries, endpoints)
    connections = new_connections(settings.webhook_concurrency)
    dispatcher = DeliveryDispatcher(sessions, settings, connections)
    started, cpu_started = time.perf_counter(), time.process_time()
    running = asyncio.create_task(dispatcher.run(drain_seconds=10))
    try:
        while await _succeeded(sessions, merchant_ids) < deliveries:
            if running.done():
                running.result()  # raises what stopped it
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:
        dispatcher.stop()
        await running
        await connections.aclose()
    return elapsed, cpu


async def _baseline_rate(url: str, deliveries: int, concurrency: int) -> tuple[float, float]:
    """Signed POSTs per second through the sender's own keep-alive connections to the same
    receiver, with no database and the URL vetted once: the ceiling the sender's figures are a
    ratio of."""
    secrets = [Secret(generate_secret())]
    body = b'{"id":"evt_bench","type":"payment.completed","data":{}}'
    limit = asyncio.Semaphore(concurrency)
    target = await vet_url(url, allow_private=True)
    connections = new_connections(concurrency)

    async def post(index: int) -> None:
        async with limit:
            headers = webhook_headers(secrets, f"evt_{index}", int(time.time()), body)
            async with connections.post(target, headers, body, 10) as response:
                await response.aread()
                assert response.status == 200

    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(post(index) for index in range(deliveries)))
        rate = deliveries / (time.perf_counter() - started)
        return rate, (time.process_time() - cpu_started) * 1000 / deliveries
    finally:
        await connections.aclose()


async def _bench(database_url: str, args: argparse.Namespace, receiver_url: str) -> dict[str, Any]:
    settings = WebhookSenderSettings(
        database_url=database_url,
        webhook_encryption_key=new_key(),
        webhook_allow_private_urls=True,
        webhook_concurrency=args.concurrency,
        webhook_endpoint_concurrency=args.endpoint_concurrency,
        database_pool_size=args.pool_size,
    )
    engine = create_engine(database_url, pool_size=settings.database_pool_size)
    sessions = create_session_factory(engine)
    print(  # noqa: T201
        f"{args.deliveries} deliveries per run, WEBHOOK_CONCURRENCY={settings.webhook_concurrency},"
        f" WEBHOOK_ENDPOINT_CONCURRENCY={settings.webhook_endpoint_concurrency},"
        f" database pool {settings.database_pool_size}"
    )
    runs = []
    try:
        for count in args.endpoints:
            # The sender may have at most this many attempts in flight to `count` endpoints
            # (WEBHOOK_ENDPOINT_CONCURRENCY each, WEBHOOK_CONCURRENCY in all): its baseline
            # sends with the same limit, so the ratio prices what the sender adds to a POST
            # (the claim, the signature, the SSRF check, the recorded result), not the cap.
            in_flight = min(
                settings.webhook_concurrency, settings.webhook_endpoint_concurrency * count
            )
            baseline, baseline_cpu_ms = await _baseline_rate(
                receiver_url, args.deliveries, in_flight
            )
            print(  # noqa: T201
                f"{count:>3} endpoint(s), baseline: signed POSTs without a database,"
                f" {in_flight} in flight: {baseline:7.1f}/s, {baseline_cpu_ms:.2f} CPU ms per POST"
            )
            seconds, cpu = await _run_once(sessions, settings, receiver_url, args.deliveries, count)
            rate = args.deliveries / seconds
            cpu_ms = cpu * 1000 / args.deliveries
            print(  # noqa: T201
                f"{count:>3} endpoint(s): {args.deliveries} delivered in {seconds:6.2f} s"
                f" = {rate:7.1f} deliveries/s, {rate / baseline:.2f}x the baseline,"
                f" {cpu_ms:.2f} CPU ms per delivery"
            )
            runs.append(
                {
                    "endpoints": count,
                    "in_flight": in_flight,
                    "deliveries_per_s": round(rate, 1),
                    "baseline_per_s": round(baseline, 1),
                    "ratio": round(rate / baseline, 3),
                    "cpu_ms_per_delivery": round(cpu_ms, 3),
                    "baseline_cpu_ms_per_post": round(baseline_cpu_ms, 3),
                }
            )
    finally:
        await engine.dispose()
    return {
        "deliveries": args.deliveries,
        "concurrency": settings.webhook_concurrency,
        "endpoint_concurrency": settings.webhook_endpoint_concurrency,
        "target": TARGET_RATIO,
        "runs": runs,
    }


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument(
        "--endpoints",
        type=lambda value: [int(part) for part in value.split(",")],
        default=[1, 20],
        help="comma-separated endpoint counts, one run each (default 1,20)",
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--endpoint-concurrency", type=int, default=4)
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--database-url", help="a migrated database instead of an embedded one")
    parser.add_argument("--serve-receiver", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def measure(argv: list[str]) -> dict[str, Any]:
    """The figures of one run with these command-line arguments (for `make bench`)."""
    return _measure(_arguments(argv))


def main() -> None:
    args = _arguments()
    if args.serve_receiver:
        asyncio.run(_serve(args.serve_receiver))
        return
    _measure(args)


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("WARNING", "console")  # not one line per attempt
    port = find_free_port()
    command = [sys.executable, __file__, "--serve-receiver", str(port)]
    receiver = subprocess.Popen(command)  # noqa: S603 - this script, fixed arguments
    directory = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    try:
        _wait_for_port(port, receiver)
        if args.database_url:
            upgrade(args.database_url)
            return asyncio.run(_bench(args.database_url, args, f"http://127.0.0.1:{port}/hooks"))
        postgres = EmbeddedPostgres(
            directory / "postgres",
            find_free_port(),
            fsync=False,
            log_file=directory / "postgres.log",
        )
        with postgres:
            upgrade(postgres.database_url)
            url = f"http://127.0.0.1:{port}/hooks"
            return asyncio.run(_bench(postgres.database_url, args, url))
    finally:
        receiver.terminate()
        receiver.wait()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
