"""Which count holds a request back, and what happens when PostgreSQL cannot count it.

- An active merchant key: its own count in PostgreSQL, shared by every replica (CONTRACT: per
  API key, the same across replicas), read in the statement that looks the key up.
- The operator's token: its own count in PostgreSQL, so an onboarding script is never
  throttled by strangers who share its address.
- Anything else (no credential, a wrong one, an unknown, revoked or malformed key): the client's
  address, in this replica's memory (rate_limit/by_address.py). Inventing keys gets no new
  bucket and costs no write. An unknown key still costs its lookup, a read: a merchant behind
  the same address as a flood (a NAT, or every client when the proxies are not configured) must
  still be told apart from it.

The client's address is the TCP peer's, or X-Forwarded-For's when the peer is a proxy that
FORWARDED_ALLOW_IPS names (app.py puts that check in front of the edge).

When PostgreSQL cannot count a keyed request, RATE_LIMIT_FAIL_OPEN decides: true serves it, held
to its address's count instead (which never fails); false answers 503. Requests without a valid
credential never wait on PostgreSQL, so strangers stay limited during an outage either way.
"""

import hmac

import structlog
from starlette.types import Scope

from payments_api.key_lookup import KeyLookup, leave_in_scope
from payments_core.api_keys.secrets import hash_key, looks_like_key
from payments_core.errors import ServiceUnavailable
from payments_core.rate_limit.by_address import AddressLimiter
from payments_core.rate_limit.service import RateLimiter, RateLimitState

log = structlog.get_logger()


class RequestLimits:
    def __init__(
        self,
        shared: RateLimiter,
        by_address: AddressLimiter,
        *,
        operator_token: str,
        fail_open: bool,
    ) -> None:
        self.shared = shared
        self.by_address = by_address
        self._operator_token = operator_token.encode()
        self._operator_bucket = _credential_bucket(hash_key(operator_token))
        self.fail_open = fail_open

    async def count(self, scope: Scope, credential: str) -> RateLimitState:
        """Count this request where it belongs and return that count. Raises ServiceUnavailable
        when PostgreSQL could not count it and the limiter fails closed."""
        try:
            if looks_like_key(credential):
                key_hash = hash_key(credential)
                counted = await self.shared.find_key_and_hit(_credential_bucket(key_hash), key_hash)
                leave_in_scope(scope, KeyLookup(credential, counted[1] if counted else None))
                if counted is not None:
                    return counted[0]
            elif credential and hmac.compare_digest(credential.encode(), self._operator_token):
                return await self.shared.hit(self._operator_bucket)
        except Exception:
            log.warning("api.rate_limit_unavailable", fail_open=self.fail_open, exc_info=True)
            if not self.fail_open:
                raise ServiceUnavailable("rate limiting is unavailable; retry shortly") from None
        return self.by_address.hit(client_address(scope))


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _credential_bucket(credential_hash: str) -> str:
    return "cred:" + credential_hash[:40]
