"""Fixtures for API tests: the real app over ASGI, against the session's real PostgreSQL.

Isolation comes from ownership: every test onboards its own merchants (unique emails), and every
object endpoint is scoped to its merchant, so tests never see each other's rows.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_api.app import create_app
from payments_core.db.engine import create_engine
from tests.api.support import (
    OPERATOR,
    TEST_CARD,
    MerchantFixture,
    OnboardMerchant,
    api_settings,
    assert_error,
    running_client,
    unique_email,
)

__all__ = ["OPERATOR", "TEST_CARD", "MerchantFixture", "api_settings", "assert_error"]


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running_client(create_app(api_settings(database_url))) as api_client:
        yield api_client


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """For assertions straight on the tables."""
    database_engine = create_engine(database_url, pool_size=2)
    yield database_engine
    await database_engine.dispose()


@pytest.fixture
def onboard(client: httpx.AsyncClient) -> OnboardMerchant:
    async def create(**fields: Any) -> MerchantFixture:
        email = fields.pop("email", unique_email())
        response = await client.post(
            "/merchants", json={"name": "Test Merchant", "email": email, **fields}, headers=OPERATOR
        )
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        return MerchantFixture(data["id"], data["email"], data["apiKey"], data)

    return create


@pytest.fixture
async def merchant(onboard: OnboardMerchant) -> MerchantFixture:
    return await onboard()


@pytest.fixture
async def card_method(client: httpx.AsyncClient, merchant: MerchantFixture) -> dict[str, Any]:
    response = await client.post(
        "/payment-methods", json={"type": "card", "card": TEST_CARD}, headers=merchant.headers
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
