"""A closed-loop HTTP/1.1 load generator: N keep-alive connections, one request in flight each.

    python -m scripts.bench.load --url http://127.0.0.1:3001/api/v1/payments --seconds 20 \
        --connections 32 --header "X-API-Key: sk_test_…" --body '{"amount": 100}'

Run as its own process so its CPU is not the server's. Written on raw asyncio streams (and
uvloop): a general-purpose client costs several times more CPU per request, which on a small
machine would be taken from the servers being compared. Every request carries a fresh
`Idempotency-Key`. Requests that complete during the warm-up are not counted. Prints one JSON
object: requests, errors, statuses, requests per second, p50 and p99 latency in milliseconds.
"""

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import uvloop

from scripts.bench.common import percentile


@dataclass
class Tally:
    counting_from: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0


def request_bytes(host: str, path: str, headers: list[str], body: bytes) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"Idempotency-Key: {uuid.uuid4().hex}",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, keep_alive = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection" and value.strip().lower() == b"close":
            keep_alive = False
    await reader.readexactly(length)
    return status, keep_alive


async def _connection(
    url: str, headers: list[str], body: bytes, deadline: float, tally: Tally
) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            writer.write(request_bytes(parts.netloc, parts.path, headers, body))
            try:
                status, keep_alive = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                status, keep_alive = 0, False
            ended = time.perf_counter()
            if began >= tally.counting_from:
                tally.latencies.append(ended - began)
                tally.statuses[status] += 1
                tally.errors += status == 0 or status >= 400
            if not keep_alive:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def run(
    url: str, headers: list[str], body: bytes, connections: int, seconds: float, warmup: float
) -> dict[str, object]:
    start = time.perf_counter()
    tally = Tally(counting_from=start + warmup)
    deadline = start + warmup + seconds
    await asyncio.gather(
        *(_connection(url, headers, body, deadline, tally) for _ in range(connections))
    )
    measured = time.perf_counter() - tally.counting_from
    return {
        "connections": connections,
        "seconds": round(measured, 3),
        "requests": len(tally.latencies),
        "errors": tally.errors,
        "statuses": {str(code): count for code, count in sorted(tally.statuses.items())},
        "requests_per_s": round(len(tally.latencies) / measured, 1),
        "p50_ms": round(percentile(tally.latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--body", default="{}")
    args = parser.parse_args()
    result = uvloop.run(
        run(args.url, args.header, args.body.encode(), args.connections, args.seconds, args.warmup)
    )
    print(json.dumps(result))  # noqa: T201 - the caller reads this line


if __name__ == "__main__":
    main()
