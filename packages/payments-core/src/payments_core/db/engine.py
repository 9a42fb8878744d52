"""Async engine and session factory, built once at process start."""

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from payments_core.db.bounds import StatementBounds
from payments_core.telemetry.sql_spans import instrument_engine


def sqlalchemy_url(database_url: str) -> str:
    """`postgresql://…` as operators write it, with the asyncpg driver SQLAlchemy needs."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+asyncpg://" + database_url.removeprefix(prefix)
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def asyncpg_dsn(database_url: str) -> str:
    """The plain DSN asyncpg itself accepts (for LISTEN connections)."""
    return "postgresql://" + sqlalchemy_url(database_url).removeprefix("postgresql+asyncpg://")


def create_engine(
    database_url: str, *, pool_size: int = 10, bounds: StatementBounds | None = None
) -> AsyncEngine:
    """At most `2 * pool_size` connections (DATABASE_POOL_SIZE plus as many in overflow).
    Services pass their `bounds` (db/bounds.py); without them statements run unbounded, as
    migrations and one-off tools need."""
    engine = create_async_engine(
        sqlalchemy_url(database_url),
        connect_args=bounds.connect_args() if bounds is not None else {},
        # All of them kept once opened (asyncpg's own pool does the same): with overflow, a
        # burst above pool_size closed each extra connection on return and opened another on
        # the next checkout; under 32 concurrent create-payments that connect/close churn
        # (TCP, authentication, codec setup) was ~4% of the API's CPU (py-spy).
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        pool_recycle=1800,
    )
    instrument_engine(engine)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Every table model, so any foreign key a flush resolves names a known table, whichever
    # models the process imported itself (the webhook sender touches only a few).
    import payments_core.db.tables  # noqa: F401

    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
