"""The API key the edge looked up beside its rate-limit count, handed to authentication.

Every request with a key needs both its rate-limit count and its key's row; the edge reads them
in one statement (RateLimiter.find_key_and_hit) and leaves the result in the request's scope,
where `deps.current_merchant` takes it instead of querying again. It lives for one request only:
nothing is cached, so a revoked key is refused from the next request on.
"""

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from payments_core.api_keys.repository import ActiveKey

_SCOPE_STATE_NAME = "api_key_lookup"


@dataclass(frozen=True, slots=True)
class KeyLookup:
    presented: str  # the credential looked up, compared before the result is used
    found: ActiveKey | None


def leave_in_scope(scope: MutableMapping[str, Any], lookup: KeyLookup) -> None:
    scope.setdefault("state", {})[_SCOPE_STATE_NAME] = lookup


def looked_up(scope: MutableMapping[str, Any], presented: str) -> KeyLookup | None:
    """The edge's lookup of exactly this credential, if it made one."""
    lookup = scope.get("state", {}).get(_SCOPE_STATE_NAME)
    if isinstance(lookup, KeyLookup) and lookup.presented == presented:
        return lookup
    return None
