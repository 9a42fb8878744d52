"""FastAPI dependencies: the shared state, a session per request, and who is calling."""

import hmac
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from payments_api.key_lookup import looked_up
from payments_api.state import ApiState
from payments_core.api_keys.repository import ActiveKey
from payments_core.api_keys.service import authenticate_key, require_active
from payments_core.db.driver import driver_connection
from payments_core.errors import AuthenticationFailed, NotFound
from payments_core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, PageRequest

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A merchant's secret key, sk_test_…"
)
_bearer = HTTPBearer(
    auto_error=False, description="A merchant's key, or the operator's ADMIN_API_TOKEN"
)


# Dependencies are `async def` even when they never await: FastAPI runs a plain `def` dependency
# in its thread pool, a thread hop and a GIL hand-off per request to read one attribute.
async def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


StateDep = Annotated[ApiState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with state.session_factory() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@dataclass(frozen=True, slots=True)
class MerchantPrincipal:
    """The caller: its merchant's id and the key it presented (load the merchant if needed)."""

    api_key: ActiveKey

    @property
    def id(self) -> uuid.UUID:
        return self.api_key.merchant_id


async def current_merchant(
    request: Request,
    state: StateDep,
    api_key: Annotated[str | None, Security(_api_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> MerchantPrincipal:
    presented = api_key or (bearer.credentials if bearer else None)
    if not presented:
        raise AuthenticationFailed(
            "no API key provided: send X-API-Key or Authorization: Bearer", code="missing_api_key"
        )
    lookup = looked_up(request.scope, presented)  # the edge's, in its rate-limit round trip
    if lookup is not None:
        key = require_active(lookup.found)
    else:
        # Its own pooled connection, returned before the route runs: the route's session (or
        # connection) is then the only one the request holds (db/driver.py, pool discipline).
        async with driver_connection(state.engine) as connection:
            key = await authenticate_key(connection, presented)
    structlog.contextvars.bind_contextvars(merchant_id=str(key.merchant_id))
    return MerchantPrincipal(key)


CurrentMerchant = Annotated[MerchantPrincipal, Depends(current_merchant)]


async def require_operator(
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> None:
    token = bearer.credentials if bearer else ""
    expected = state.settings.admin_api_token
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise AuthenticationFailed("operator token required", code="invalid_admin_token")


Operator = Annotated[None, Depends(require_operator)]


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> PageRequest:
    return PageRequest(limit, Cursor.decode(cursor) if cursor else None, offset)


PageDep = Annotated[PageRequest, Depends(page_request)]


def parse_id(value: str, what: str) -> uuid.UUID:
    """A malformed id answers 404 like a missing one: ids are opaque to merchants."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"no {what} with id {value[:64]}", param="id") from None
