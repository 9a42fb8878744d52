"""Bounds on every statement a service runs: PostgreSQL's timeouts, and asyncpg's behind them.

statement_timeout and lock_timeout are sent as startup parameters of each pooled connection
(asyncpg's `server_settings`): no round trip per transaction, and every statement is covered,
the session's and the driver connection's (db/driver.py) alike. The server's timeout fires first
and aborts the statement cleanly (QueryCanceled, LockNotAvailable); asyncpg's `command_timeout`,
a little longer, is for a server or network that does not answer at all.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from payments_core.settings import DatabaseBoundsSettings

# The server's own timeout gets this long to answer before the client gives up on it.
COMMAND_TIMEOUT_MARGIN_SECONDS = 2.0

# SQLSTATE 57014 (statement_timeout or a cancel) and 55P03 (lock_timeout).
_TIMED_OUT = (asyncpg.QueryCanceledError, asyncpg.LockNotAvailableError, TimeoutError)


@dataclass(frozen=True, slots=True)
class StatementBounds:
    statement_timeout_seconds: float
    lock_timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: DatabaseBoundsSettings) -> "StatementBounds":
        return cls(
            settings.database_statement_timeout_seconds, settings.database_lock_timeout_seconds
        )

    def connect_args(self) -> dict[str, Any]:
        """asyncpg.connect's arguments that put these bounds on a connection."""
        return {
            "server_settings": {
                "statement_timeout": _milliseconds(self.statement_timeout_seconds),
                "lock_timeout": _milliseconds(self.lock_timeout_seconds),
            },
            "command_timeout": self.statement_timeout_seconds + COMMAND_TIMEOUT_MARGIN_SECONDS,
        }


def _milliseconds(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))


def timed_out(error: BaseException) -> bool:
    """Whether `error` is a statement or lock timeout, the server's or asyncpg's."""
    return any(isinstance(cause, _TIMED_OUT) for cause in _causes(error))


def lock_timed_out(error: BaseException) -> bool:
    """Whether `error` is lock_timeout's LockNotAvailable."""
    return any(isinstance(cause, asyncpg.LockNotAvailableError) for cause in _causes(error))


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and what it wraps: SQLAlchemy keeps the DBAPI error as `orig`, whose cause is
    asyncpg's own."""
    seen: BaseException | None = error
    for _ in range(5):  # a few levels at most; never loop on a cycle
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or getattr(seen, "orig", None)
