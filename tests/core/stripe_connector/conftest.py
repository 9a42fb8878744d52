"""localstripe, a stateful fake of Stripe's API (PyPI; GPL-3.0), as a separate process on a
free port: run through `uv tool run` in an environment of its own, never imported or vendored.
"""

import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from payments_core.gateway.stripe import StripeConnector
from payments_core.gateway.stripe.client import StripeClient
from payments_core.secret import Secret
from payments_devstack.processes import find_free_ports

LOCALSTRIPE = "localstripe==1.15.10"
START_TIMEOUT_SECONDS = 120.0  # the first run installs it into uv's cache
TEST_KEY = Secret("sk_test_" + "l" * 24)


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is needed to run localstripe in an environment of its own")
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
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                stderr = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"localstripe did not start: {stderr[-2000:]}") from None
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
async def stripe(localstripe_url: str) -> AsyncIterator[StripeConnector]:
    client = StripeClient(TEST_KEY, api_base=localstripe_url)
    yield StripeConnector(client)
    await client.aclose()
