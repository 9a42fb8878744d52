"""Async engine and session factory, built once at process start."""

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

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


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    engine = create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
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
