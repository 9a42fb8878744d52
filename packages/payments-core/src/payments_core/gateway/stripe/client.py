"""Stripe's HTTP API, as the connector needs it: form-encoded requests, an Idempotency-Key on
every mutating call, a timeout on every call, and Stripe's errors turned into ours.

Plain httpx rather than the `stripe` library: one small module, async without a second HTTP
stack, and every request visible here (each one is checked against Stripe's documented shape
in tests). Stripe's own guidance is followed: a 402 card error is final; 409 (an idempotency
key in use), 429 and 5xx are retried with the same key; a timeout is retried with the same key.
"""

from collections.abc import Mapping
from typing import Any

import httpx

from payments_core.gateway.errors import (
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
    GatewayUnreachable,
)
from payments_core.secret import Secret
from payments_core.settings import DEFAULT_STRIPE_API_BASE

# Pinned, as Stripe advises: the account's default version must not change our answers.
API_VERSION = "2024-06-20"
RETRYABLE_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
# httpx's transport retries a failed connection (never a sent request) this many times.
CONNECT_RETRIES = 2


class StripeError(GatewayError):
    """A final refusal from Stripe; `stripe_code` and `decline_code` say which."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        stripe_code: str | None,
        decline_code: str | None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        # Stripe's error type: card_error (the issuer declined), invalid_request_error, ...
        self.kind = kind
        self.stripe_code = stripe_code
        self.decline_code = decline_code


class StripeClient:
    def __init__(
        self,
        secret_key: Secret,
        *,
        api_base: str = DEFAULT_STRIPE_API_BASE,
        timeout_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=api_base.rstrip("/"),
            auth=(secret_key.reveal(), ""),
            headers={"Stripe-Version": API_VERSION},
            timeout=timeout_seconds,
            transport=transport or httpx.AsyncHTTPTransport(retries=CONNECT_RETRIES),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(
        self, path: str, form: Mapping[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key}
        return await self._send("POST", path, data=encode(form), headers=headers)

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self._send("GET", path, params=dict(params or {}))

    async def _send(self, method: str, path: str, **request: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, **request)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            # Never sent (the transport already retried the connection twice).
            raise GatewayUnreachable(f"Stripe unreachable: {type(error).__name__}") from error
        except httpx.TimeoutException as error:
            raise GatewayTimeout(f"Stripe did not answer {method} {path} in time") from error
        except httpx.TransportError as error:
            raise GatewayUnavailable(f"Stripe unreachable: {type(error).__name__}") from error
        if response.status_code in RETRYABLE_STATUSES:
            raise GatewayUnavailable(f"Stripe answered {response.status_code} to {method} {path}")
        body = _json(response)
        if response.is_success:
            return body
        found = body.get("error")
        refusal: dict[str, Any] = found if isinstance(found, dict) else {}
        raise StripeError(
            str(refusal.get("message") or f"Stripe refused {method} {path}"),
            status=response.status_code,
            stripe_code=refusal.get("code"),
            decline_code=refusal.get("decline_code"),
            kind=refusal.get("type"),
        )


def encode(form: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Stripe's form encoding of nested objects: {"metadata": {"a": 1}} → metadata[a]=1."""
    flat: dict[str, str] = {}
    for key, value in form.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(encode(value, name))
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        elif value is not None:
            flat[name] = str(value)
    return flat


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise GatewayUnavailable(f"Stripe answered {response.status_code} without JSON") from None
    return body if isinstance(body, dict) else {}
