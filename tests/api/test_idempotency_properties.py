"""Idempotency-Key properties against the in-process API and the real database.

For generated payment bodies: the same key with the same body replays exactly the stored response
(status and body, `Idempotent-Replayed: true`) and creates nothing more; the same key with any
other body is 422 `idempotency_key_reused`. Bounded examples: each one is a few real requests.
"""

import asyncio
import os
import uuid
from collections.abc import Awaitable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments_api.app import create_app
from payments_core.idempotency.service import fingerprint
from tests.api.support import OPERATOR, TEST_CARD, api_settings, running_client, unique_email

T = TypeVar("T")
EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "30"))


@dataclass
class Api:
    runner: asyncio.Runner
    client: httpx.AsyncClient
    headers: dict[str, str]
    method_id: str

    def run(self, work: Awaitable[T]) -> T:
        return self.runner.run(work)  # type: ignore[arg-type]


async def _merchant_with_card(client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    onboarded = await client.post(
        "/merchants", json={"name": "Idempotency", "email": unique_email()}, headers=OPERATOR
    )
    headers = {"X-API-Key": onboarded.json()["data"]["apiKey"]}
    method = await client.post(
        "/payment-methods", json={"type": "card", "card": TEST_CARD}, headers=headers
    )
    return headers, method.json()["data"]["id"]


@pytest.fixture(scope="module")
def api(database_url: str) -> Iterator[Api]:
    # Hypothesis drives sync tests: the app runs on a loop of this module's own.
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        client = runner.run(
            stack.enter_async_context(running_client(create_app(api_settings(database_url))))
        )
        headers, method_id = runner.run(_merchant_with_card(client))
        yield Api(runner, client, headers, method_id)
        runner.run(stack.aclose())


metadata = st.dictionaries(
    # Not blank: request strings are stripped, so a key of spaces is an empty key, refused (400)
    # before any idempotency check, and the refusal below would expect 422 from a 400.
    st.text(
        st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40
    ).filter(str.strip),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
    | st.integers(-(10**6), 10**6)
    | st.booleans(),
    max_size=4,
)
bodies = st.fixed_dictionaries(
    {"amount": st.integers(1, 10**9)},
    optional={
        "currency": st.sampled_from(["NGN", "USD", "EUR", "KES", "ngn"]),
        "description": st.text(
            st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30
        ),
        "metadata": metadata,
    },
)


async def _post(api: Api, key: str, body: dict[str, Any]) -> httpx.Response:
    headers = {**api.headers, "Idempotency-Key": key}
    return await api.client.post(
        "/payments", json={**body, "paymentMethodId": api.method_id}, headers=headers
    )


async def _payment_count(api: Api) -> int:
    count, params = 0, {"limit": "100"}
    while True:
        listed = (await api.client.get("/payments", params=params, headers=api.headers)).json()
        count += len(listed["data"])
        if not listed["pagination"]["hasMore"]:
            return count
        params["cursor"] = listed["pagination"]["nextCursor"]


@settings(
    max_examples=EXAMPLES,
    deadline=None,  # real requests against PostgreSQL
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=bodies,
    other=bodies,
    key=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40),
)
def test_same_key_replays_and_another_body_is_refused(
    api: Api, body: dict[str, Any], other: dict[str, Any], key: str
) -> None:
    key = f"{uuid.uuid4().hex[:8]}-{key}"  # fresh per example: keys are scoped per merchant
    first = api.run(_post(api, key, body))
    assert first.status_code == 201, first.text
    before = api.run(_payment_count(api))

    again = api.run(_post(api, key, body))
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert api.run(_payment_count(api)) == before

    if fingerprint({**other, "paymentMethodId": api.method_id}) != fingerprint(
        {**body, "paymentMethodId": api.method_id}
    ):
        reused = api.run(_post(api, key, other))
        assert reused.status_code == 422, reused.text
        assert reused.json()["error"] == {
            "type": "idempotency_error",
            "code": "idempotency_key_reused",
            "message": reused.json()["message"],
            "param": "Idempotency-Key",
        }
        assert api.run(_payment_count(api)) == before
