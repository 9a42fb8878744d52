"""SSRF guard: no network beyond this machine's loopback (IP literals and `localhost` only)."""

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from payments_core.errors import InvalidRequest
from payments_core.webhooks.ssrf import (
    VettedTarget,
    is_forbidden_address,
    pinned_request_args,
    vet_url,
)

FORBIDDEN_URLS = [
    "https://10.0.0.1/hook",
    "https://127.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[fc00::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "https://[fe80::1]/hook",
    "https://[ff02::1]/hook",
    "https://[::]/hook",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://0.1.2.3/hook",
    "https://192.168.1.1:8443/hook",
    "https://172.16.0.1/hook",
    "https://224.0.0.1/hook",
    "https://255.255.255.255/hook",
    "http://localhost/hook",
    "http://LOCALHOST:8080/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one integer: inet_aton accepts it
    "http://0x7f.1/hook",  # 127.0.0.1 in hex shorthand
    "http://127.1/hook",
]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
async def test_forbidden_addresses_refused(url: str) -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        await vet_url(url, allow_private=False)
    assert excinfo.value.code == "url_forbidden"
    assert excinfo.value.param == "url"
    assert excinfo.value.status_code == 400


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
async def test_allow_private_lifts_address_rule(url: str) -> None:
    target = await vet_url(url, allow_private=True)
    assert target.url == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.216.34/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://127.0.0.1:6379/_INFO",
        "data:text/plain,hi",
        "//93.184.216.34/x",
        "93.184.216.34/x",
        "http:///nohost",
        "",
        "https://93.184.216.34:99999/x",
        "https://93.184.216.34:0/x",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
async def test_bad_scheme_or_url_is_invalid(url: str, allow_private: bool) -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        await vet_url(url, allow_private=allow_private)
    assert excinfo.value.code == "url_invalid"
    assert excinfo.value.param == "url"
    assert excinfo.value.status_code == 400


async def test_public_ipv4_literal_accepted() -> None:
    target = await vet_url("https://93.184.216.34/hook?x=1", allow_private=False)
    assert target == VettedTarget(
        url="https://93.184.216.34/hook?x=1",
        scheme="https",
        hostname="93.184.216.34",
        port=443,
        ip=ipaddress.IPv4Address("93.184.216.34"),
    )


async def test_public_ipv6_literal_and_mapped_public_accepted() -> None:
    target = await vet_url("http://[2606:2800:220:1:248:1893:25c8:1946]:8080/", allow_private=False)
    assert target.ip == ipaddress.IPv6Address("2606:2800:220:1:248:1893:25c8:1946")
    assert (target.hostname, target.port) == ("2606:2800:220:1:248:1893:25c8:1946", 8080)
    mapped = await vet_url("https://[::ffff:93.184.216.34]/", allow_private=False)
    assert mapped.ip == ipaddress.IPv4Address("93.184.216.34")  # connect over IPv4


@pytest.fixture
async def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Answers for made-up names; anything else raises like an unknown name."""
    answers: dict[str, list[str]] = {}
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: str, port: int, **_: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in answers[host]
        ]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return answers


async def test_any_private_answer_refuses(fake_dns: dict[str, list[str]]) -> None:
    fake_dns["rebind.example"] = ["93.184.216.34", "10.1.2.3"]
    with pytest.raises(InvalidRequest) as excinfo:
        await vet_url("https://rebind.example/hook", allow_private=False)
    assert excinfo.value.code == "url_forbidden"
    fake_dns["v6.example"] = ["2606:2800:220:1:248:1893:25c8:1946", "fd00::5"]
    with pytest.raises(InvalidRequest):
        await vet_url("https://v6.example/hook", allow_private=False)


async def test_public_name_accepted_first_answer_pinned(fake_dns: dict[str, list[str]]) -> None:
    fake_dns["merchant.example"] = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    target = await vet_url("https://Merchant.Example/hook", allow_private=False)
    assert target.hostname == "merchant.example"
    assert target.ip == ipaddress.IPv4Address("93.184.216.34")


async def test_unresolvable_name(fake_dns: dict[str, list[str]]) -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        await vet_url("https://nowhere.example/hook", allow_private=True)
    assert excinfo.value.code == "url_unresolvable"
    assert excinfo.value.param == "url"


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("8.8.8.8", False),
        ("93.184.216.34", False),
        ("2606:4700::1", False),
        ("100.127.255.255", True),
        ("100.128.0.0", False),
        ("169.254.169.254", True),
        ("192.0.2.1", True),  # documentation
        ("198.18.0.1", True),  # benchmarking
        ("fec0::1", True),  # site-local
        ("2001:db8::1", True),  # documentation
        ("64:ff9b:1::a00:1", True),  # NAT64 local-use
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", True),  # Teredo
        ("::127.0.0.1", True),  # IPv4-compatible (deprecated)
        ("::ffff:8.8.8.8", False),
        ("::ffff:10.0.0.1", True),
        ("2002:a00:1::", True),  # 6to4 of 10.0.0.1
    ],
)
def test_is_forbidden_address(address: str, forbidden: bool) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address)) is forbidden


def test_pinned_request_args_shapes() -> None:
    https = VettedTarget(
        url="https://user:pw@Merchant.example/hook?a=1#frag",
        scheme="https",
        hostname="merchant.example",
        port=443,
        ip=ipaddress.IPv4Address("93.184.216.34"),
    )
    url, headers, extensions = pinned_request_args(https)
    assert httpx.URL(url).host == "93.184.216.34"
    assert httpx.URL(url).path == "/hook"
    assert httpx.URL(url).query == b"a=1"
    assert headers == {"Host": "merchant.example"}
    assert extensions == {"sni_hostname": "merchant.example"}

    v6 = VettedTarget(
        url="http://merchant.example:8080/hook",
        scheme="http",
        hostname="merchant.example",
        port=8080,
        ip=ipaddress.IPv6Address("2606:4700::1"),
    )
    url, headers, extensions = pinned_request_args(v6)
    assert url == "http://[2606:4700::1]:8080/hook"
    assert headers == {"Host": "merchant.example:8080"}
    assert extensions == {}


class _Server:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length:
            await reader.readexactly(length)
        self.requests.append((lines[0], headers))
        body = headers.get("host", "").encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
        )
        await writer.drain()
        writer.close()

    async def start(self, host: str) -> int:
        self.server = await asyncio.start_server(self.handle, host, 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port


@pytest.fixture
async def server() -> AsyncIterator[_Server]:
    srv = _Server()
    yield srv
    if srv.server is not None:
        srv.server.close()
        await srv.server.wait_closed()


async def _post(url: str, headers: dict[str, str], extensions: dict[str, object]) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        return await client.post(
            url,
            content=b"{}",
            headers={"content-type": "application/json", **headers},
            extensions=extensions,
            follow_redirects=False,
        )


async def test_pinned_request_reaches_vetted_ip_with_original_host(
    server: _Server, fake_dns: dict[str, list[str]]
) -> None:
    # `merchant.example` exists only in the fake resolver: httpx must not resolve it itself.
    port = await server.start("127.0.0.1")
    fake_dns["merchant.example"] = ["127.0.0.1"]
    target = await vet_url(f"http://merchant.example:{port}/hook?x=1", allow_private=True)
    url, headers, extensions = pinned_request_args(target)
    response = await _post(url, headers, extensions)
    assert response.status_code == 200
    assert response.text == f"merchant.example:{port}"
    request_line, seen = server.requests[0]
    assert request_line == "POST /hook?x=1 HTTP/1.1"
    assert seen["host"] == f"merchant.example:{port}"


async def test_pinned_request_via_real_localhost(server: _Server) -> None:
    # Learn which loopback address `localhost` pins to here, then listen there.
    probe = await vet_url("http://localhost/", allow_private=True)
    port = await server.start(str(probe.ip))
    target = await vet_url(f"http://localhost:{port}/hook", allow_private=True)
    assert target.ip == probe.ip
    url, headers, extensions = pinned_request_args(target)
    assert "localhost" not in url
    response = await _post(url, headers, extensions)
    assert response.status_code == 200
    assert server.requests[0][1]["host"] == f"localhost:{port}"
