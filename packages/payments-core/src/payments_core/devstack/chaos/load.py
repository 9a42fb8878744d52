"""The merchant: payments created through the API at a steady pace, whatever the faults do.

Each payment has its own Idempotency-Key and is retried with it until the API answers 201, so an
API killed mid-request neither loses the payment nor creates it twice (a replay returns the first
answer). A request still locked by a killed API answers 409 until the lock times out (60 s).
"""

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from payments_core.devstack.chaos.cards import pick_card

REQUEST_TIMEOUT_SECONDS = 10.0
# Longer than the idempotency lock's takeover (60 s) plus a restart.
CREATE_DEADLINE_SECONDS = 180.0
RETRY_PAUSE_SECONDS = 0.5
RETRIED_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
CARD_EXPIRY = {"expMonth": 12, "expYear": 2035, "cvc": "123"}


@dataclass(frozen=True)
class CreatedPayment:
    index: int
    payment_id: str
    card: str
    # How many requests it took (more than one: the API was down, killed or restarting).
    requests: int


@dataclass
class LoadResult:
    created: list[CreatedPayment] = field(default_factory=list)
    # Payments the API never accepted within the deadline: each one a violation.
    refused: list[str] = field(default_factory=list)
    retried_requests: int = 0


class Merchant:
    def __init__(self, api_url: str, api_key: str, run_id: str | None = None) -> None:
        self._api_url = api_url
        self._headers = {"X-API-Key": api_key}
        self._run_id = run_id or uuid.uuid4().hex[:8]
        self.methods: dict[str, str] = {}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self._api_url, headers=self._headers, timeout=REQUEST_TIMEOUT_SECONDS
        )

    async def register_cards(self, client: httpx.AsyncClient, cards: list[str]) -> None:
        """One payment method per test card, before any fault."""
        for number in cards:
            body = {"type": "card", "card": {"number": number, **CARD_EXPIRY}}
            answer = await self._post(client, "/payment-methods", body, f"card-{number}")
            self.methods[number] = answer[0]

    async def create_payments(
        self,
        count: int,
        per_second: float,
        rng: random.Random,
        on_created: Callable[[int], None] = lambda _: None,
    ) -> LoadResult:
        """`count` payments, one every 1/per_second s; each retried on its own until accepted."""
        result = LoadResult()
        started = time.monotonic()
        async with self.client() as client:
            tasks = []
            for index in range(count):
                delay = started + index / per_second - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                card = pick_card(rng)
                amount = rng.randint(100, 1_000_000)
                tasks.append(asyncio.create_task(self._create(client, index, card, amount, result)))
                on_created(index + 1)
            await asyncio.gather(*tasks)
        result.created.sort(key=lambda payment: payment.index)
        return result

    async def _create(
        self, client: httpx.AsyncClient, index: int, card: str, amount: int, result: LoadResult
    ) -> None:
        body = {
            "amount": amount,
            "currency": "NGN",
            "paymentMethodId": self.methods[card],
            "reference": f"chaos-{self._run_id}-{index}",
            "metadata": {"chaosIndex": index},
        }
        try:
            payment_id, requests = await self._post(client, "/payments", body, f"payment-{index}")
        except PaymentRefused as refused:
            result.refused.append(f"payment #{index} ({card}): {refused}")
            return
        result.retried_requests += requests - 1
        result.created.append(CreatedPayment(index, payment_id, card, requests))

    async def _post(
        self, client: httpx.AsyncClient, path: str, body: Mapping[str, object], key: str
    ) -> tuple[str, int]:
        """The created object's id and how many requests it took."""
        headers = {"Idempotency-Key": f"chaos-{self._run_id}-{key}"}
        deadline = time.monotonic() + CREATE_DEADLINE_SECONDS
        requests = 0
        last = "no answer"
        while time.monotonic() < deadline:
            requests += 1
            try:
                response = await client.post(path, json=body, headers=headers)
            except httpx.TransportError as error:
                last = f"{type(error).__name__}"
            else:
                if response.status_code == 201:
                    return str(response.json()["data"]["id"]), requests
                last = f"{response.status_code} {response.text[:200]}"
                if response.status_code not in RETRIED_STATUSES:
                    raise PaymentRefused(last)
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
        raise PaymentRefused(f"not accepted within {CREATE_DEADLINE_SECONDS:.0f} s: {last}")


class PaymentRefused(Exception):
    """The API answered with a final refusal, or never accepted the payment in time."""
