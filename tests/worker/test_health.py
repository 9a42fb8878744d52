"""The worker's health endpoint."""

import asyncio
import json

from payments_devstack.processes import find_free_port
from payments_worker.health import HealthServer


async def exchange(port: int, request: bytes) -> tuple[bytes, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return head, body


async def get(port: int, request: bytes) -> tuple[int, dict[str, str]]:
    head, body = await exchange(port, request)
    return int(head.split()[1]), json.loads(body)


async def test_health_answers_ok_and_nothing_else() -> None:
    server = HealthServer(find_free_port(), host="127.0.0.1")
    await server.start()
    try:
        assert server.port is not None
        ok = await get(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        missing = await get(server.port, b"GET /nothing HTTP/1.1\r\n\r\n")
        wrong_method = await get(server.port, b"POST /health HTTP/1.1\r\n\r\n")
    finally:
        await server.stop()

    assert ok == (200, {"status": "ok"})
    assert missing[0] == 404
    assert wrong_method[0] == 405


async def test_port_zero_disables_the_server() -> None:
    server = HealthServer(0)
    await server.start()
    assert server.port is None
    await server.stop()


async def test_metrics_answer_in_the_prometheus_text_format() -> None:
    server = HealthServer(find_free_port(), host="127.0.0.1")
    await server.start()
    try:
        assert server.port is not None
        head, body = await exchange(server.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        await server.stop()

    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Type: text/plain" in head
    assert b"# TYPE payments_gateway_call_duration_seconds histogram" in body
