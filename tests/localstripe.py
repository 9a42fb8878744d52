"""localstripe, a stateful fake of Stripe's API (PyPI; GPL-3.0), as a separate process on a
free port: run through `uv tool run` in an environment of its own, never imported or vendored.
Imported by the conftests that need it (`localstripe_url`, one process per test session).
"""

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from payments_core.secret import Secret
from payments_devstack.processes import find_free_ports

LOCALSTRIPE = "localstripe==1.15.10"
START_TIMEOUT_SECONDS = 120.0  # the first run installs it into uv's cache
TEST_KEY = Secret("sk_test_" + "l" * 24)
# localstripe's own, fixed path (shared by every localstripe on the machine), read at start.
STATE_FILE = Path("/tmp/localstripe.pickle")


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is needed to run localstripe in an environment of its own")
    try:
        process, url = _start_localstripe(uv)
    except _UnreadableState:
        # localstripe rewrites its whole state file on every change: one stopped mid-write
        # leaves it truncated, and every later localstripe fails reading it. Nothing in it is
        # this session's: start without it.
        STATE_FILE.unlink(missing_ok=True)
        process, url = _start_localstripe(uv)
    yield url
    process.terminate()
    process.wait(timeout=10)


class _UnreadableState(RuntimeError):
    """localstripe stopped at start on its state file (STATE_FILE)."""


def _start_localstripe(uv: str) -> tuple[subprocess.Popen[bytes], str]:
    (port,) = find_free_ports(1)
    process = subprocess.Popen(
        [uv, "tool", "run", "--from", LOCALSTRIPE, "localstripe", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "UV_NATIVE_TLS": os.environ.get("UV_NATIVE_TLS", "1")},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            httpx.get(f"{url}/v1/payment_methods", auth=(TEST_KEY.reveal(), ""), timeout=1)
            return process, url
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                stderr = process.stderr.read().decode() if process.stderr else ""
                if "try_load_from_disk" in stderr:
                    raise _UnreadableState(stderr[-500:]) from None
                raise RuntimeError(f"localstripe did not start: {stderr[-2000:]}") from None
            time.sleep(0.2)


class ProcessorFaults(httpx.AsyncBaseTransport):
    """The transport of the worker's Stripe connectors in tests: requests go to localstripe,
    except those of a key made `unreachable` (refused before anything is sent, as a connection to
    a closed port is) or `declining` (its PaymentIntents answer Stripe's documented card decline,
    which localstripe never gives); and 3-D Secure is shown as Stripe shows it to a server-side
    confirmation (`_as_stripe`). Every request is noted by key, method and path."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.unreachable: set[str] = set()
        self.declining: set[str] = set()
        self.requests: list[tuple[str, str, str]] = []
        self._return_urls: dict[str, str] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = _basic_user(request.headers.get("authorization", ""))
        self.requests.append((key, request.method, request.url.path))
        if key in self.unreachable:
            raise httpx.ConnectError("connection refused (test)", request=request)
        creating = (request.method, request.url.path) == ("POST", "/v1/payment_intents")
        if key in self.declining and creating:
            return httpx.Response(402, json=CARD_DECLINED, request=request)
        return_url = None
        if creating:
            request, return_url = await _without_return_url(request)
        response = await self._inner.handle_async_request(request)
        return await self._as_stripe(request, response, return_url)

    async def _as_stripe(
        self, request: httpx.Request, response: httpx.Response, return_url: str | None
    ) -> httpx.Response:
        """localstripe asks for 3-D Secure as `use_stripe_sdk` only (it knows no return_url):
        shown as Stripe documents the answer to a confirmation with a return_url, a
        `redirect_to_url` whose page is localstripe's own stand-in for the issuer's."""
        if not request.url.path.startswith("/v1/payment_intents"):
            return response
        body = json.loads(await response.aread())
        if not isinstance(body, dict) or "id" not in body:
            return httpx.Response(response.status_code, json=body, request=request)
        if return_url is not None:
            self._return_urls[body["id"]] = return_url
        action = body.get("next_action") or {}
        if action.get("type") == "use_stripe_sdk":
            query = urlencode({"client_secret": body.get("client_secret", "")})
            body["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {
                    "url": f"{request.url.scheme}://{request.url.netloc.decode()}"
                    f"/v1/payment_intents/{body['id']}/_authenticate?{query}",
                    "return_url": self._return_urls.get(body["id"]),
                },
            }
        return httpx.Response(response.status_code, json=body, request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def paths_of(self, key: str) -> list[tuple[str, str]]:
        return [(method, path) for who, method, path in self.requests if who == key]


CARD_DECLINED = {
    "error": {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "Your card was declined.",
    }
}


async def _without_return_url(request: httpx.Request) -> tuple[httpx.Request, str | None]:
    """The request without the return_url localstripe would refuse, and that return_url."""
    form = parse_qsl((await request.aread()).decode(), keep_blank_values=True)
    return_url = next((value for name, value in form if name == "return_url"), None)
    kept = urlencode([(name, value) for name, value in form if name != "return_url"])
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return httpx.Request(request.method, request.url, headers=headers, content=kept), return_url


def _basic_user(header: str) -> str:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return ""
    return base64.b64decode(encoded).decode().partition(":")[0]
