"""One delivery attempt over HTTP: vet the URL again, sign, POST to the vetted address.

Never raises for anything the endpoint or the network does: every outcome is an AttemptResult
to record. Redirects are not followed and at most 64 KiB of the response is read (a hostile
endpoint cannot make the sender hold a large body); the whole attempt, from name resolution to
the last byte read, is bounded by `timeout_seconds`.
"""

import asyncio
import time
from collections.abc import Sequence

import httpcore

from payments_core.errors import InvalidRequest
from payments_core.secret import Secret
from payments_core.telemetry.metrics import WEBHOOK_ATTEMPT_DURATION, WEBHOOK_ATTEMPTS
from payments_core.telemetry.tracing import TRACEPARENT, current_traceparent
from payments_core.webhooks.connections import PinnedConnections
from payments_core.webhooks.deliveries import AttemptResult
from payments_core.webhooks.signing import webhook_headers
from payments_core.webhooks.ssrf import VettedTarget, vet_webhook_url

USER_AGENT = "payments-platform-webhooks/1.0"
_ERROR_LIMIT = 500
# The metric outcome of a URL refused before any request, by the refusal's code.
_REFUSALS = {"url_forbidden": "refused_by_ssrf", "url_unresolvable": "unresolvable"}
MAX_RESPONSE_BYTES_READ = 64 * 1024


# Everything httpcore raises for what the network or the endpoint did (httpx wrapped these as
# its HTTPError before the sender used httpcore directly).
_HTTP_ERRORS = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.TimeoutException,
    httpcore.UnsupportedProtocol,
)


def new_connections(concurrency: int) -> PinnedConnections:
    """The sender's keep-alive connections: as many idle per host as it may have attempts in
    flight (many merchants' endpoints can share one host, say a webhook relay service)."""
    return PinnedConnections(per_host=concurrency)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _counted(outcome: str, started: float, result: AttemptResult) -> AttemptResult:
    WEBHOOK_ATTEMPTS.labels(outcome=outcome).inc()
    WEBHOOK_ATTEMPT_DURATION.labels(outcome=outcome).observe(time.monotonic() - started)
    return result


def _http_outcome(status_code: int) -> str:
    if 200 <= status_code < 300:
        return "success"
    return "gone" if status_code == 410 else "http_error"


async def attempt_delivery(
    connections: PinnedConnections,
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
        # One bound for the whole attempt, name resolution included: a merchant's slow DNS
        # server must not hold a sender slot past the timeout either.
        async with asyncio.timeout(timeout_seconds):
            target = await vet_webhook_url(url, allow_private=allow_private)
            code = await _post(connections, target, event_id, body, secrets, timeout_seconds)
    except InvalidRequest as refused:
        error = f"{refused.code}: {refused.message}"
        outcome = _REFUSALS.get(refused.code, "invalid_url")
        return _counted(outcome, started, AttemptResult(None, _elapsed_ms(started), error))
    except TimeoutError:
        error = f"timeout: no answer within {timeout_seconds:g} s"
        return _counted("timeout", started, AttemptResult(None, _elapsed_ms(started), error))
    except _HTTP_ERRORS as failed:
        error = f"connection: {str(failed) or type(failed).__name__}"[:_ERROR_LIMIT]
        return _counted("connection", started, AttemptResult(None, _elapsed_ms(started), error))
    failure = None if 200 <= code < 300 else f"http_status: endpoint answered {code}"
    return _counted(
        _http_outcome(code), started, AttemptResult(code, _elapsed_ms(started), failure)
    )


async def _post(
    connections: PinnedConnections,
    target: VettedTarget,
    event_id: str,
    body: bytes,
    secrets: Sequence[Secret],
    timeout_seconds: float,
) -> int:
    headers = {
        **webhook_headers(secrets, event_id, int(time.time()), body),
        "user-agent": USER_AGENT,
    }
    # The attempt's span (webhooks.attempt_span), when tracing is on.
    traceparent = current_traceparent()
    if traceparent:
        headers[TRACEPARENT] = traceparent
    async with connections.post(target, headers, body, timeout_seconds) as response:
        # A short answer is read to its end so the connection goes back to the pool (no new
        # TLS handshake per webhook); a long one is cut off, and that connection closed.
        received = 0
        async for chunk in response.aiter_stream():
            received += len(chunk)
            if received > MAX_RESPONSE_BYTES_READ:
                break
        return response.status
