"""Our own PostgreSQL being away is not the gateway's answer: gateway activities wait it out.

A gateway activity has a small attempt budget (AUTHORIZE_RETRY, CAPTURE_RETRY, REFUND_RETRY)
sized for the gateway's transient errors, and the workflow names the failureReason after the
*last* attempt's error. An attempt that fails because our database (which also holds the
sandbox's ledger) is restarting would spend that budget and, on the last attempt, turn a card's
own outcome (gateway_timeout, say) into processing_error. So, inside one attempt, a database
that cannot be reached is retried until it answers again, heartbeating meanwhile; the attempt's
start_to_close timeout still bounds the wait (an outage longer than that ends the attempt as a
timeout, which is what the gateway step looked like from outside).

Repeating the whole step is safe: every gateway call carries its idempotency key, and every
status write is idempotent, so a step cut off mid-way answers the same on the next try.
The alternative, a retryable error plus a workflow that remembers the last gateway-reported
reason across attempts, would change the workflow's logic (a patch) and still let an outage
eat the attempts a card like 0119 needs to succeed.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import asyncpg
import structlog
from sqlalchemy.exc import DBAPIError
from temporalio import activity

log = structlog.get_logger()

T = TypeVar("T")

RETRY_PAUSE_SECONDS = 0.5

# What PostgreSQL answers while it shuts down, crashes or recovers (SQLSTATE 57P01-57P03), and
# the client's own errors for a connection that is gone or cannot be made.
UNREACHABLE: tuple[type[BaseException], ...] = (
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    ConnectionError,
)


def database_unreachable(error: BaseException) -> bool:
    """True when `error` (or what caused it) says PostgreSQL could not be reached or went away
    mid-statement; False for anything the database answered (a constraint, a bad query)."""
    for link in _chain(error):
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return True
        if isinstance(link, UNREACHABLE):
            return True
    return False


async def through_database_outages(step: Callable[[], Awaitable[T]], *, what: str) -> T:
    """Run `step`; while it fails because PostgreSQL is unreachable, wait and run it again."""
    waited = 0
    while True:
        try:
            result = await step()
        except Exception as error:
            if not database_unreachable(error):
                raise
            if waited == 0:
                log.warning("worker.database_unreachable", step=what, error=type(error).__name__)
            waited += 1
            # Tells Temporal (and a reader of the history) the attempt is alive and why it waits.
            activity.heartbeat(f"waiting for the database ({waited})")
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
            continue
        if waited:
            log.info("worker.database_back", step=what, retries=waited)
        return result


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        original = getattr(current, "orig", None)  # SQLAlchemy's wrapper of the driver's error
        if isinstance(original, BaseException):
            yield original
        current = current.__cause__ or current.__context__
