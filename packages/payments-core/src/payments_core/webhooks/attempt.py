"""One delivery attempt over HTTP: vet the URL again, sign, POST to the vetted address.

Never raises for anything the endpoint or the network does: every outcome is an AttemptResult
to record. Redirects are not followed and the response body is never read (a hostile endpoint
cannot make the sender hold a large body); the whole attempt, connect to last byte of headers,
is bounded by `timeout_seconds`.
"""

import asyncio
import time
from collections.abc import Sequence

import httpx

from payments_core.errors import InvalidRequest
from payments_core.secret import Secret
from payments_core.webhooks.deliveries import AttemptResult
from payments_core.webhooks.signing import webhook_headers
from payments_core.webhooks.ssrf import pinned_request_args, vet_url

USER_AGENT = "payments-platform-webhooks/1.0"
_ERROR_LIMIT = 500


def new_client(max_connections: int) -> httpx.AsyncClient:
    # trust_env=False: a proxy would resolve the name itself, past the SSRF check.
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=32),
    )


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


async def attempt_delivery(
    client: httpx.AsyncClient,
    *,
    url: str,
    event_id: str,
    body: bytes,
    secrets: Sequence[Secret],
    allow_private: bool,
    timeout_seconds: float,
) -> AttemptResult:
    started = time.monotonic()
    try:
        target = await vet_url(url, allow_private=allow_private)
    except InvalidRequest as refused:
        return AttemptResult(None, _elapsed_ms(started), f"{refused.code}: {refused.message}")
    if target.scheme != "https" and not allow_private:
        return AttemptResult(None, _elapsed_ms(started), "url_invalid: url must be an https URL")
    pinned_url, host_headers, extensions = pinned_request_args(target)
    headers = {
        **webhook_headers(secrets, event_id, int(time.time()), body),
        **host_headers,
        "user-agent": USER_AGENT,
    }
    try:
        async with asyncio.timeout(timeout_seconds):
            request = client.build_request(
                "POST", pinned_url, content=body, headers=headers, extensions=extensions
            )
            response = await client.send(request, stream=True)
            await response.aclose()
    except TimeoutError:
        error = f"timeout: no answer within {timeout_seconds:g} s"
        return AttemptResult(None, _elapsed_ms(started), error)
    except httpx.HTTPError as error:
        detail = str(error) or type(error).__name__
        return AttemptResult(None, _elapsed_ms(started), f"connection: {detail}"[:_ERROR_LIMIT])
    code = response.status_code
    failure = None if 200 <= code < 300 else f"http_status: endpoint answered {code}"
    return AttemptResult(code, _elapsed_ms(started), failure)
