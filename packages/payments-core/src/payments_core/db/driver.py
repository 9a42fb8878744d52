"""The asyncpg connection under SQLAlchemy's pool, for the few statements run on every request.

Why: on the create-payment path SQLAlchemy (the ORM most, Core too) cost about 1 ms of CPU per
statement, parameters, result and transaction, against tens of microseconds for asyncpg itself
(py-spy, README "Performance"). These statements are written as plain SQL with `$n` parameters
and run on the driver connection; asyncpg prepares each once per connection and caches it.

The connection comes from the engine's own pool (one pool, one size, one place to configure),
and is in autocommit mode: a single statement commits by itself, and `connection.transaction()`
groups several. The engine's JSON codecs are installed on it: a jsonb parameter is passed as JSON
text, and a jsonb column comes back decoded.

Pool discipline (the deadlock README describes): hold at most one pooled connection at a time;
never check one out here while the same request holds another (a session that already ran a
statement holds one).
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from payments_core.telemetry.sql_spans import SQL_TRACER_NAME
from payments_core.telemetry.tracing import tracing_active

DriverConnection = asyncpg.Connection


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[DriverConnection]:
    """A pooled connection, returned to the pool afterwards (discarded if it broke or was left
    inside a transaction, which only an interrupted statement does)."""
    pooled = await engine.raw_connection()
    connection: DriverConnection = pooled.driver_connection  # type: ignore[assignment]
    try:
        yield connection
    finally:
        if connection.is_closed() or connection.is_in_transaction():
            await greenlet_spawn(pooled.invalidate)
        await greenlet_spawn(pooled.close)


async def fetchrow(
    connection: DriverConnection, statement: str, *args: Any
) -> asyncpg.Record | None:
    """`connection.fetchrow`, with a database span when tracing is on and a span of ours is
    current (as the engine's statements get, sql_spans.py); parameters never reach the span."""
    if not tracing_active() or not trace.get_current_span().get_span_context().is_valid:
        return await connection.fetchrow(statement, *args)
    with trace.get_tracer(SQL_TRACER_NAME).start_as_current_span(
        _span_name(statement), kind=SpanKind.CLIENT, attributes=_attributes(statement)
    ):
        return await connection.fetchrow(statement, *args)


async def fetch(connection: DriverConnection, statement: str, *args: Any) -> list[asyncpg.Record]:
    """`connection.fetch`, traced like `fetchrow`."""
    if not tracing_active() or not trace.get_current_span().get_span_context().is_valid:
        return await connection.fetch(statement, *args)
    with trace.get_tracer(SQL_TRACER_NAME).start_as_current_span(
        _span_name(statement), kind=SpanKind.CLIENT, attributes=_attributes(statement)
    ):
        return await connection.fetch(statement, *args)


async def execute(connection: DriverConnection, statement: str, *args: Any) -> str:
    """`connection.execute` with parameters, traced like `fetchrow`."""
    if not tracing_active() or not trace.get_current_span().get_span_context().is_valid:
        return await connection.execute(statement, *args)
    with trace.get_tracer(SQL_TRACER_NAME).start_as_current_span(
        _span_name(statement), kind=SpanKind.CLIENT, attributes=_attributes(statement)
    ):
        return await connection.execute(statement, *args)


def _span_name(statement: str) -> str:
    words: Sequence[str] = statement.split(maxsplit=1)
    return words[0].upper() if words else "SQL"


def _attributes(statement: str) -> dict[str, str]:
    return {"db.system": "postgresql", "db.statement": " ".join(statement.split())}
