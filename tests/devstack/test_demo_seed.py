"""The demo seed gives the demo merchant one webhook endpoint at the local receiver, kept across
runs and replaced when it no longer works."""

import json
import stat
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from payments_api.seed import DemoSeed, seed_demo
from payments_core.api_keys.service import authenticate
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.db.session import transaction
from payments_core.webhooks import endpoints
from payments_core.webhooks.models import WebhookEndpoint
from payments_core.webhooks.schemas import WebhookEndpointCreate, WebhookEndpointUpdate
from payments_core.webhooks.secret_box import SecretBox, new_key

RECEIVER_URL = "http://127.0.0.1:4000/webhooks"
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = create_engine(database_url, pool_size=2)
    yield create_session_factory(engine)
    await engine.dispose()


async def endpoint_row(sessions: Sessions, endpoint_id: str) -> WebhookEndpoint:
    async with transaction(sessions) as session:
        row = await session.get(WebhookEndpoint, uuid.UUID(endpoint_id))
        assert row is not None
        return row


async def live_endpoints(sessions: Sessions, merchant_id: str) -> int:
    statement = select(func.count()).where(
        col(WebhookEndpoint.merchant_id) == uuid.UUID(merchant_id),
        col(WebhookEndpoint.deleted_at).is_(None),
    )
    async with transaction(sessions) as session:
        return int((await session.execute(statement)).scalar_one())


async def test_the_demo_endpoint_is_created_once_and_kept_across_runs(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    key, state_file = new_key(), tmp_path / "demo.json"
    first = await seed_demo(database_url, state_file, encryption_key=key, webhook_url=RECEIVER_URL)
    endpoints_after_first = await live_endpoints(sessions, first.merchant_id)

    second = await seed_demo(database_url, state_file, encryption_key=key, webhook_url=RECEIVER_URL)

    assert second == first
    assert await live_endpoints(sessions, first.merchant_id) == endpoints_after_first
    row = await endpoint_row(sessions, first.webhook_endpoint_id)
    assert str(row.merchant_id) == first.merchant_id
    assert (row.url, row.enabled_events, row.disabled, row.deleted_at) == (
        RECEIVER_URL,
        ["*"],
        False,
        None,
    )
    # Only the sealed form is in the database; the plaintext is in the state file, for the receiver.
    assert first.webhook_secret.startswith("whsec_")
    assert first.webhook_secret not in row.secret_sealed
    opened = SecretBox(key).open(row.secret_sealed, bound_to=str(row.id))
    assert opened.reveal() == first.webhook_secret
    saved = json.loads(state_file.read_text())
    assert saved["webhook_endpoint_id"] == first.webhook_endpoint_id
    assert saved["webhook_secret"] == first.webhook_secret
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert first.webhook_secret not in repr(first)


async def delete(sessions: Sessions, seed: DemoSeed) -> None:
    async with transaction(sessions) as session:
        await endpoints.delete(
            session, uuid.UUID(seed.merchant_id), uuid.UUID(seed.webhook_endpoint_id)
        )


async def disable(sessions: Sessions, seed: DemoSeed) -> None:
    async with transaction(sessions) as session:
        await endpoints.change(
            session,
            uuid.UUID(seed.merchant_id),
            uuid.UUID(seed.webhook_endpoint_id),
            WebhookEndpointUpdate(disabled=True),
            allow_private=True,
        )


async def nothing(sessions: Sessions, seed: DemoSeed) -> None:
    return None


@pytest.mark.parametrize(
    ("change", "next_key", "next_url"),
    [
        (delete, None, RECEIVER_URL),
        (disable, None, RECEIVER_URL),
        # The key file was lost: the sealed secret no longer opens.
        (nothing, new_key(), RECEIVER_URL),
        # The receiver moved (WEBHOOK_RECEIVER_PORT).
        (nothing, None, "http://127.0.0.1:4100/webhooks"),
    ],
    ids=["deleted", "disabled", "another-encryption-key", "another-receiver-port"],
)
async def test_an_endpoint_that_no_longer_works_is_replaced(
    database_url: str,
    sessions: Sessions,
    tmp_path: Path,
    change: Callable[[Sessions, DemoSeed], Awaitable[None]],
    next_key: str | None,
    next_url: str,
) -> None:
    key, state_file = new_key(), tmp_path / "demo.json"
    first = await seed_demo(database_url, state_file, encryption_key=key, webhook_url=RECEIVER_URL)
    await change(sessions, first)

    second = await seed_demo(
        database_url, state_file, encryption_key=next_key or key, webhook_url=next_url
    )

    assert second.webhook_endpoint_id != first.webhook_endpoint_id
    assert second.webhook_secret != first.webhook_secret
    assert (second.merchant_id, second.api_key) == (first.merchant_id, first.api_key)
    assert json.loads(state_file.read_text())["webhook_secret"] == second.webhook_secret
    new = await endpoint_row(sessions, second.webhook_endpoint_id)
    assert (new.url, new.disabled, new.deleted_at) == (next_url, False, None)
    opened = SecretBox(next_key or key).open(new.secret_sealed, bound_to=str(new.id))
    assert opened.reveal() == second.webhook_secret
    # The stale one is retired, so the sender stops sending to it.
    assert (await endpoint_row(sessions, first.webhook_endpoint_id)).deleted_at is not None


async def test_a_state_file_from_before_webhooks_keeps_the_merchant_and_its_key(
    database_url: str, tmp_path: Path
) -> None:
    key, state_file = new_key(), tmp_path / "demo.json"
    first = await seed_demo(database_url, state_file, encryption_key=key, webhook_url=RECEIVER_URL)
    old_state = json.loads(state_file.read_text())
    del old_state["webhook_endpoint_id"], old_state["webhook_secret"]
    state_file.write_text(json.dumps(old_state))

    second = await seed_demo(database_url, state_file, encryption_key=key, webhook_url=RECEIVER_URL)

    assert (second.merchant_id, second.api_key) == (first.merchant_id, first.api_key)
    assert second.payment_method_id == first.payment_method_id
    assert second.webhook_endpoint_id and second.webhook_endpoint_id != first.webhook_endpoint_id


async def test_a_lost_state_file_keeps_the_demo_merchant_and_retires_its_endpoint(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    key = new_key()
    first = await seed_demo(
        database_url, tmp_path / "first.json", encryption_key=key, webhook_url=RECEIVER_URL
    )

    second = await seed_demo(
        database_url, tmp_path / "second.json", encryption_key=key, webhook_url=RECEIVER_URL
    )

    assert second.merchant_id == first.merchant_id
    assert second.api_key != first.api_key
    # Its secret is gone with the state file: only the new endpoint receives events.
    assert (await endpoint_row(sessions, first.webhook_endpoint_id)).deleted_at is not None
    assert (await endpoint_row(sessions, second.webhook_endpoint_id)).deleted_at is None
    async with transaction(sessions) as session:
        _, merchant = await authenticate(session, second.api_key)
    assert str(merchant.id) == first.merchant_id


async def test_endpoints_the_user_added_are_left_alone(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    key, state_file = new_key(), tmp_path / "demo.json"
    first = await seed_demo(database_url, state_file, encryption_key=key, webhook_url=RECEIVER_URL)
    async with transaction(sessions) as session:
        mine, _ = await endpoints.create(
            session,
            uuid.UUID(first.merchant_id),
            WebhookEndpointCreate(url=RECEIVER_URL, description="my own"),
            box=SecretBox(key),
            allow_private=True,
        )
    await delete(sessions, first)

    await seed_demo(database_url, state_file, encryption_key=key, webhook_url=RECEIVER_URL)

    assert (await endpoint_row(sessions, str(mine.id))).deleted_at is None
