"""Every request and every statement of the API is bounded below the Idempotency-Key takeover
window: statement and lock timeouts on its connections, a request deadline, and a start-up
check of their order. A request cut off answers 503 in the contract's shape, rolled back, with
its key released for the retry."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments_api.app import create_app
from payments_core.db.driver import driver_connection
from payments_core.settings import ApiSettings
from tests.api.support import MerchantFixture, api_settings, assert_error, running_client
from tests.api.test_idempotency import count_payments, payment_body
from tests.api.test_settings import run_api


@asynccontextmanager
async def locked(engine: AsyncEngine, table: str) -> AsyncIterator[None]:
    """Holds `table` so that any write to it waits, until the block ends."""
    async with engine.connect() as blocker:
        transaction = await blocker.begin()
        await blocker.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            await transaction.rollback()


def assert_timed_out(response: httpx.Response) -> None:
    body = assert_error(response, 503, "api_error", "request_timeout")
    assert "Traceback" not in response.text and "INSERT" not in body["message"]


async def test_the_apps_connections_carry_the_statement_bounds(database_url: str) -> None:
    app = create_app(api_settings(database_url))
    state = app.state.api
    try:
        async with state.session_factory() as session:
            shown = await session.execute(text("SELECT current_setting('statement_timeout'),"
                                               " current_setting('lock_timeout')"))  # fmt: skip
            assert tuple(shown.one()) == ("10s", "5s")
        async with driver_connection(state.engine) as connection:
            assert await connection.fetchval("SHOW statement_timeout") == "10s"
    finally:
        await state.engine.dispose()


@pytest.mark.parametrize(
    ("statement_timeout", "lock_timeout"),
    [(0.3, 5.0), (5.0, 0.3)],
    ids=["statement_timeout", "lock_timeout"],
)
async def test_a_statement_cut_off_by_the_database_answers_503_and_releases_the_key(
    database_url: str,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
    statement_timeout: float,
    lock_timeout: float,
) -> None:
    settings = api_settings(
        database_url,
        database_statement_timeout_seconds=statement_timeout,
        database_lock_timeout_seconds=lock_timeout,
        request_timeout_seconds=10,
        idempotency_takeover_seconds=20,
    )
    headers = {**merchant.headers, "Idempotency-Key": f"cut-off-{statement_timeout}"}
    async with running_client(create_app(settings)) as client:
        async with locked(engine, "payments"):
            began = time.monotonic()
            cut_off = await client.post(
                "/payments", json=payment_body(card_method), headers=headers
            )
            took = time.monotonic() - began
        retry = await client.post("/payments", json=payment_body(card_method), headers=headers)

    assert_timed_out(cut_off)
    assert took < 3
    assert retry.status_code == 201  # not 409: the cut-off request released its key
    assert await count_payments(engine, merchant) == 1


async def _past_the_deadline(
    client: httpx.AsyncClient, engine: AsyncEngine, table: str, path: str, body: Any, key: str
) -> httpx.Response:
    headers = {"Idempotency-Key": key}
    async with locked(engine, table):
        began = time.monotonic()
        response = await client.post(path, json=body, headers=headers)
        assert time.monotonic() - began < 3
    return response


async def test_the_request_deadline_cancels_a_waiting_statement_rolls_back_and_releases(
    database_url: str,
    merchant: MerchantFixture,
    card_method: dict[str, Any],
    engine: AsyncEngine,
) -> None:
    """The deadline alone (the database would wait 10 s): on the driver connection's path
    (POST /payments) and the session's (POST /payment-methods). Settings copied past their
    check, which would refuse a deadline under the statement timeout."""
    settings = api_settings(database_url).model_copy(update={"request_timeout_seconds": 0.5})
    async with running_client(create_app(settings)) as client:
        client.headers.update(merchant.headers)
        payment = payment_body(card_method)
        method = {"type": "wallet", "provider": "deadline"}
        cut_payment = await _past_the_deadline(
            client, engine, "payments", "/payments", payment, "deadline-payment"
        )
        cut_method = await _past_the_deadline(
            client, engine, "payment_methods", "/payment-methods", method, "deadline-method"
        )
        # The connections whose statements were cancelled went back to the pool usable, and
        # the keys were released.
        retries = await asyncio.gather(
            client.post("/payments", json=payment, headers={"Idempotency-Key": "deadline-payment"}),
            client.post(
                "/payment-methods", json=method, headers={"Idempotency-Key": "deadline-method"}
            ),
            *(client.get("/payments") for _ in range(4)),
        )

    assert_timed_out(cut_payment)
    assert_timed_out(cut_method)
    assert [response.status_code for response in retries] == [201, 201, 200, 200, 200, 200]
    assert await count_payments(engine, merchant) == 1


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"REQUEST_TIMEOUT_SECONDS": "60"}, ("REQUEST_TIMEOUT_SECONDS",
                                             "IDEMPOTENCY_TAKEOVER_SECONDS")),
        ({"IDEMPOTENCY_TAKEOVER_SECONDS": "20"}, ("REQUEST_TIMEOUT_SECONDS",
                                                  "IDEMPOTENCY_TAKEOVER_SECONDS")),
        ({"DATABASE_STATEMENT_TIMEOUT_SECONDS": "30"}, ("DATABASE_STATEMENT_TIMEOUT_SECONDS",
                                                        "REQUEST_TIMEOUT_SECONDS")),
    ],
)  # fmt: skip
def test_bounds_out_of_order_stop_the_api_naming_the_variables(
    overrides: dict[str, str], named: tuple[str, ...]
) -> None:
    base = {"DATABASE_URL": "postgresql://u@h/db", "ADMIN_API_TOKEN": "x" * 20,
            "WEBHOOK_ENCRYPTION_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}  # fmt: skip
    result = run_api({**base, **overrides})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error:")
    assert all(variable in lines[0] for variable in named), lines[0]


def test_the_default_bounds_are_in_order() -> None:
    settings = ApiSettings(
        database_url="postgresql://u@h/db",
        admin_api_token="x" * 20,
        webhook_encryption_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
    )
    assert (
        settings.database_lock_timeout_seconds
        < settings.database_statement_timeout_seconds
        < settings.request_timeout_seconds
        < settings.idempotency_takeover_seconds
    )
