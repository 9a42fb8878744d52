"""Alembic environment: runs migrations over the asyncpg engine named by DATABASE_URL."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from payments_core.db.engine import create_engine
from payments_core.db.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    # Without the services' statement bounds (db/bounds.py): a migration may rewrite a table or
    # build an index for longer than any request may run.
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", pool_size=1)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; set DATABASE_URL")
asyncio.run(_run_async())
