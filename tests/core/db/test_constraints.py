"""PostgreSQL itself refuses what must never happen, whatever the application does."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payments_core.db.engine import create_engine


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[AsyncConnection]:
    """A transaction rolled back after the test: nothing it inserts survives."""
    engine: AsyncEngine = create_engine(database_url, pool_size=1)
    async with engine.connect() as database:
        transaction = await database.begin()
        yield database
        await transaction.rollback()
    await engine.dispose()


async def _merchant_with_method(connection: AsyncConnection) -> tuple[uuid.UUID, uuid.UUID]:
    merchant, method = uuid.uuid4(), uuid.uuid4()
    await connection.execute(
        text("INSERT INTO merchants (id, name, email, is_active) VALUES (:id, 'M', :email, true)"),
        {"id": merchant, "email": f"{merchant}@example.test"},
    )
    await connection.execute(
        text(
            "INSERT INTO payment_methods (id, merchant_id, type, is_active)"
            " VALUES (:id, :merchant, 'wallet', true)"
        ),
        {"id": method, "merchant": merchant},
    )
    return merchant, method


async def _insert_payment(connection: AsyncConnection, **overrides: Any) -> None:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "reference": f"PAY-{uuid.uuid4().hex[:16].upper()}",
        "merchant_reference": None,
        "amount": 100,
        "currency": "NGN",
        "status": "pending",
        **overrides,
    }
    await connection.execute(
        text(
            "INSERT INTO payments (id, merchant_id, payment_method_id, reference,"
            " merchant_reference, amount, currency, status) VALUES (:id, :merchant_id,"
            " :payment_method_id, :reference, :merchant_reference, :amount, :currency, :status)"
        ),
        values,
    )


async def _refused(connection: AsyncConnection, **overrides: Any) -> None:
    savepoint = await connection.begin_nested()
    with pytest.raises((IntegrityError, DBAPIError)):
        await _insert_payment(connection, **overrides)
    await savepoint.rollback()


async def test_payment_rules_are_enforced_by_the_database(connection: AsyncConnection) -> None:
    merchant, method = await _merchant_with_method(connection)
    owned = {"merchant_id": merchant, "payment_method_id": method}
    await _insert_payment(connection, **owned, merchant_reference="order-1")

    await _refused(connection, **owned, amount=0)
    await _refused(connection, **owned, amount=-1)
    await _refused(connection, **owned, status="paid")
    await _refused(connection, **owned, currency="naira")
    await _refused(connection, **owned, merchant_reference="order-1")
    await _refused(connection, merchant_id=uuid.uuid4(), payment_method_id=method)
    await _refused(connection, merchant_id=merchant, payment_method_id=uuid.uuid4())


async def test_idempotency_key_is_unique_per_merchant_and_for_the_operator(
    connection: AsyncConnection,
) -> None:
    merchant, _ = await _merchant_with_method(connection)
    insert = text(
        "INSERT INTO idempotency_keys (id, merchant_id, key, method, path, fingerprint)"
        " VALUES (gen_random_uuid(), :merchant, :key, 'POST', '/p', 'f')"
    )
    for owner in (merchant, None):
        await connection.execute(insert, {"merchant": owner, "key": "k"})
        savepoint = await connection.begin_nested()
        with pytest.raises(IntegrityError):
            await connection.execute(insert, {"merchant": owner, "key": "k"})
        await savepoint.rollback()


async def test_merchant_email_is_unique_ignoring_case(connection: AsyncConnection) -> None:
    insert = text(
        "INSERT INTO merchants (id, name, email, is_active) VALUES (:id, 'M', :email, true)"
    )
    await connection.execute(insert, {"id": uuid.uuid4(), "email": "Same@Example.test"})
    with pytest.raises(IntegrityError):
        await connection.execute(insert, {"id": uuid.uuid4(), "email": "same@example.test"})
