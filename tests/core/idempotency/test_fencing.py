"""A claim's token fences every write after it: a request whose key was taken over (it ran past
the takeover window) can neither store a response, nor release the key, nor create a payment;
and a takeover that meets the holder mid-store waits for it, or answers 409 at lock_timeout."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payments_core.db.bounds import StatementBounds
from payments_core.db.driver import driver_connection
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.db.session import transaction
from payments_core.errors import IdempotencyClaimLost, IdempotencyKeyInUse
from payments_core.idempotency import direct, service
from payments_core.idempotency.direct import ResponseToStore
from payments_core.idempotency.service import ClaimToken, StoredResponse
from payments_core.merchants.models import Merchant
from payments_core.payment_methods.models import PaymentMethod
from payments_core.payments.schemas import PaymentCreate
from payments_core.payments.service import create_on_connection

WINDOW = timedelta(seconds=60)
PATH = "/api/v1/things"
RESPONSE = StoredResponse(201, {"statusCode": 201, "data": {"id": "thing"}})


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    # A lock wait ends at 0.3 s here, so the lock-timeout test is quick.
    database_engine = create_engine(
        database_url, pool_size=3, bounds=StatementBounds(5.0, lock_timeout_seconds=0.3)
    )
    yield database_engine
    await database_engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
def key() -> str:
    return f"fence-{uuid.uuid4()}"


async def claim(sessions: async_sessionmaker[AsyncSession], key: str) -> ClaimToken:
    async with transaction(sessions) as session:
        claimed = await service.claim(session, None, key, "POST", PATH, "f", takeover_after=WINDOW)
    assert isinstance(claimed, uuid.UUID)
    return claimed


async def age(engine: AsyncEngine, key: str) -> None:
    """As if the claim's request had run for five minutes, past the window."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE idempotency_keys SET locked_at = now() - interval '5 minutes'"
                " WHERE merchant_id IS NULL AND key = :key"
            ),
            {"key": key},
        )


async def row(engine: AsyncEngine, key: str) -> dict[str, object] | None:
    async with engine.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT claim_token, response_status FROM idempotency_keys"
                " WHERE merchant_id IS NULL AND key = :key"
            ),
            {"key": key},
        )
        first = found.mappings().first()
        return dict(first) if first is not None else None


async def test_a_takeover_gives_the_key_a_new_token(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], key: str
) -> None:
    first = await claim(sessions, key)
    await age(engine, key)
    second = await claim(sessions, key)

    assert second != first
    assert await row(engine, key) == {"claim_token": second, "response_status": None}


async def test_a_stale_store_is_refused_and_rolls_its_work_back(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], key: str
) -> None:
    stale = await claim(sessions, key)
    await age(engine, key)
    current = await claim(sessions, key)

    merchant_email = f"{key}@example.test"

    async def stale_work_then_store() -> None:
        async with transaction(sessions) as session:
            session.add(Merchant(name="Stale work", email=merchant_email))  # the request's work
            await session.flush()
            await service.store(session, None, key, stale, RESPONSE)

    with pytest.raises(IdempotencyClaimLost) as refused:
        await stale_work_then_store()
    assert refused.value.status_code == 409 and refused.value.code == "idempotency_key_in_use"

    async with engine.connect() as connection:
        found = await connection.execute(
            text("SELECT count(*) FROM merchants WHERE email = :email"), {"email": merchant_email}
        )
        assert found.scalar_one() == 0
    assert await row(engine, key) == {"claim_token": current, "response_status": None}
    async with transaction(sessions) as session:
        await service.store(session, None, key, current, RESPONSE)
    assert await row(engine, key) == {"claim_token": current, "response_status": 201}


async def test_a_stale_release_leaves_the_new_claim(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], key: str
) -> None:
    stale = await claim(sessions, key)
    await age(engine, key)
    current = await claim(sessions, key)

    async with transaction(sessions) as session:
        await service.release(session, None, key, stale)
    async with driver_connection(engine) as connection:
        await direct.release(connection, None, key, stale)
    assert await row(engine, key) == {"claim_token": current, "response_status": None}


async def test_the_driver_path_refuses_a_stale_store_too(engine: AsyncEngine, key: str) -> None:
    async with driver_connection(engine) as connection:
        stale = await direct.claim(connection, None, key, "POST", PATH, "f", takeover_after=WINDOW)
        assert isinstance(stale, uuid.UUID)
        await age(engine, key)
        current = await direct.claim(
            connection, None, key, "POST", PATH, "f", takeover_after=WINDOW
        )
        assert isinstance(current, uuid.UUID) and current != stale

        with pytest.raises(IdempotencyClaimLost):
            await direct.store(connection, None, key, stale, RESPONSE)
        assert await row(engine, key) == {"claim_token": current, "response_status": None}
        await direct.store(connection, None, key, current, RESPONSE)
    assert await row(engine, key) == {"claim_token": current, "response_status": 201}


async def test_a_payment_under_a_stale_claim_is_not_created(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], key: str
) -> None:
    async with transaction(sessions) as session:
        merchant = Merchant(name="Fenced", email=f"{key}@example.test")
        session.add(merchant)
        await session.flush()
        method = PaymentMethod(merchant_id=merchant.id, type="ussd", metadata_={})
        session.add(method)
        await session.flush()
    async with driver_connection(engine) as connection:
        stale = await direct.claim(
            connection, merchant.id, key, "POST", PATH, "f", takeover_after=WINDOW
        )
        assert isinstance(stale, uuid.UUID)
        async with engine.begin() as aging:
            await aging.execute(
                text("UPDATE idempotency_keys SET locked_at = now() - interval '5 minutes'"
                     " WHERE merchant_id = :merchant AND key = :key"),
                {"merchant": merchant.id, "key": key},
            )  # fmt: skip
        await direct.claim(connection, merchant.id, key, "POST", PATH, "f", takeover_after=WINDOW)

        def respond(payment: dict[str, object]) -> ResponseToStore:
            return ResponseToStore(merchant.id, key, stale, 201, '{"statusCode": 201}')

        with pytest.raises(IdempotencyClaimLost):
            await create_on_connection(
                connection,
                merchant.id,
                PaymentCreate(amount=100, payment_method_id=method.id),
                supported_currencies=["NGN"],
                respond=respond,
                on_commit=[],
            )
    async with engine.connect() as reader:
        payments = await reader.execute(
            text("SELECT count(*) FROM payments WHERE merchant_id = :merchant"),
            {"merchant": merchant.id},
        )
        assert payments.scalar_one() == 0


async def test_a_takeover_waits_for_the_holder_storing_then_replays(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], key: str
) -> None:
    token = await claim(sessions, key)
    await age(engine, key)  # old enough to take over, were it not being stored right now
    async with sessions() as holder:
        await service.store(holder, None, key, token, RESPONSE)  # row locked until commit
        retry = asyncio.create_task(claim_or_replay(sessions, key))
        await asyncio.sleep(0.1)
        await holder.commit()
    assert await retry == RESPONSE


async def test_a_takeover_blocked_past_lock_timeout_is_409_in_use(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], key: str
) -> None:
    token = await claim(sessions, key)
    await age(engine, key)
    async with sessions() as holder:
        await service.store(holder, None, key, token, RESPONSE)
        with pytest.raises(IdempotencyKeyInUse):
            await claim_or_replay(sessions, key)  # lock_timeout is 0.3 s on this engine
        async with driver_connection(engine) as connection:
            with pytest.raises(IdempotencyKeyInUse):
                await direct.claim(connection, None, key, "POST", PATH, "f", takeover_after=WINDOW)
        await holder.rollback()


async def claim_or_replay(
    sessions: async_sessionmaker[AsyncSession], key: str
) -> StoredResponse | ClaimToken:
    async with transaction(sessions) as session:
        return await service.claim(session, None, key, "POST", PATH, "f", takeover_after=WINDOW)
