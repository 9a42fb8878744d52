"""Migrations: an empty database goes to head and back down, and head matches the models."""

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from alembic import command
from sqlalchemy.engine import make_url

from payments_core.db.engine import asyncpg_dsn
from payments_core.migrations.runner import alembic_config, downgrade, upgrade

EXPECTED_TABLES = {
    "merchants", "api_keys", "payment_methods", "payments", "idempotency_keys", "outbox",
    "rate_limit_counters", "sandbox_vault_cards",
}  # fmt: skip


def _on_database(database_url: str, name: str) -> str:
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)


async def _admin(database_url: str, statement: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _tables(database_url: str) -> set[str]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await connection.close()


@pytest.fixture
def empty_database(database_url: str) -> Iterator[str]:
    name = f"migrations_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    try:
        yield _on_database(database_url, name)
    finally:
        asyncio.run(_admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_upgrade_to_head_then_down_to_base_then_up_again(empty_database: str) -> None:
    upgrade(empty_database)
    assert asyncio.run(_tables(empty_database)) >= EXPECTED_TABLES

    downgrade(empty_database, "base")
    assert asyncio.run(_tables(empty_database)) == {"alembic_version"}

    upgrade(empty_database)
    assert asyncio.run(_tables(empty_database)) >= EXPECTED_TABLES


def test_head_matches_the_models(empty_database: str) -> None:
    upgrade(empty_database)
    command.check(alembic_config(empty_database))  # raises when a model change lacks a migration
