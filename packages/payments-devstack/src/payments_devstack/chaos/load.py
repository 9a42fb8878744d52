"""The merchant: payments created through the API at a steady pace, whatever the faults do,
each followed by what the merchant does next (a cancel, refunds once completed: follow_up.py;
a capture or cancel of a manual payment's hold, or nothing until it expires: holds.py).

Each request has its own Idempotency-Key and is retried with it until the API gives a final
answer, so an API killed mid-request neither loses the payment nor creates it twice (a replay
returns the first answer). A request still locked by a killed API answers 409
idempotency_key_in_use until the lock times out (60 s); a 409 invalid_state_error is final.
"""

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import httpx

from payments_devstack.chaos.cards import HOLDING_SCENARIOS, SCENARIOS, pick_card
from payments_devstack.chaos.follow_up import (
    CANCELS,
    Action,
    Answer,
    CancelAttempt,
    FollowUp,
    FollowUpResult,
    cancel_answer,
    draw_follow_up,
    refund_attempt,
)
from payments_devstack.chaos.holds import (
    MANUAL_SHARE,
    HoldAttempt,
    HoldPlan,
    HoldRequest,
    HoldRequestKind,
    draw_hold_plan,
    hold_request,
)
from payments_devstack.chaos.observe import TERMINAL

REQUEST_TIMEOUT_SECONDS = 10.0
# Longer than the idempotency lock's takeover (60 s) plus a restart.
CREATE_DEADLINE_SECONDS = 180.0
RETRY_PAUSE_SECONDS = 0.5
# A payment to refund is polled until final, at most this long (the run's bound plus a margin).
FINAL_WAIT_SECONDS = 180.0
FINAL_POLL_SECONDS = 2.0
# A capture or cancel of a hold waits for the workflow up to 2/3 of the API's own deadline
# (REQUEST_TIMEOUT_SECONDS, 30 s): the merchant waits longer, to see its 503 or its outcome.
HOLD_REQUEST_TIMEOUT_SECONDS = 40.0
AUTHORIZED = "authorized"
RETRIED_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
CARD_EXPIRY = {"expMonth": 12, "expYear": 2035, "cvc": "123"}


@dataclass(frozen=True)
class CreatedPayment:
    index: int
    payment_id: str
    card: str
    # How many requests it took (more than one: the API was down, killed or restarting).
    requests: int
    amount: int = 0
    follow_up: FollowUp = field(default_factory=FollowUp)
    # A manual payment's plan (captureMethod manual); None: captured at once.
    hold: HoldPlan | None = None


@dataclass
class LoadResult:
    created: list[CreatedPayment] = field(default_factory=list)
    # Payments the API never accepted within the deadline: each one a violation.
    refused: list[str] = field(default_factory=list)
    retried_requests: int = 0
    follow_ups: FollowUpResult = field(default_factory=FollowUpResult)
    holds: list[HoldAttempt] = field(default_factory=list)


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
        """`count` payments, one every 1/per_second s; each retried on its own until accepted,
        then followed by its cancel or refunds (`follow_up`), or its hold's capture or cancel."""
        result = LoadResult()
        started = time.monotonic()
        manual = 0
        async with self.client() as client:
            tasks = []
            for index in range(count):
                delay = started + index / per_second - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                planned = draw_payment(rng, index, manual)
                manual += planned.hold is not None
                tasks.append(asyncio.create_task(self._pay(client, planned, result)))
                on_created(index + 1)
            await asyncio.gather(*tasks)
        result.created.sort(key=lambda payment: payment.index)
        return result

    async def _pay(
        self, client: httpx.AsyncClient, planned: CreatedPayment, result: LoadResult
    ) -> None:
        created = await self._create(client, planned, result)
        if created is None:
            return
        if created.hold is not None:
            await self._hold(client, created, created.hold, result)
            return
        follow_up = created.follow_up
        if follow_up.action in CANCELS:
            await asyncio.sleep(follow_up.delay_seconds)
            await self._cancel(client, created, result)
        elif follow_up.refunds:
            await self._refund(client, created, result)

    async def _create(
        self, client: httpx.AsyncClient, planned: CreatedPayment, result: LoadResult
    ) -> CreatedPayment | None:
        index, card = planned.index, planned.card
        body = {
            "amount": planned.amount,
            "currency": "NGN",
            "paymentMethodId": self.methods[card],
            "reference": f"chaos-{self._run_id}-{index}",
            "metadata": {"chaosIndex": index},
        }
        if planned.hold is not None:
            body["captureMethod"] = "manual"
        try:
            payment_id, requests = await self._post(client, "/payments", body, f"payment-{index}")
        except PaymentRefused as refused:
            result.refused.append(f"payment #{index} ({card}): {refused}")
            return None
        result.retried_requests += requests - 1
        created = replace(planned, payment_id=payment_id, requests=requests)
        result.created.append(created)
        return created

    async def _cancel(
        self, client: httpx.AsyncClient, payment: CreatedPayment, result: LoadResult
    ) -> None:
        path = f"/payments/{payment.payment_id}/cancel"
        answer = await self._final_answer(client, path, {}, f"cancel-{payment.index}")
        if isinstance(answer, Answer):
            result.retried_requests += answer.requests - 1
        racing = payment.follow_up.action is Action.CANCEL_RACING
        result.follow_ups.cancels.append(
            CancelAttempt(payment.payment_id, racing, cancel_answer(answer))
        )

    async def _hold(
        self,
        client: httpx.AsyncClient,
        payment: CreatedPayment,
        plan: HoldPlan,
        result: LoadResult,
    ) -> None:
        """Once the payment is authorized: its capture, cancel, both at once, or nothing."""
        status = await self._final_status(client, payment.payment_id, until=(AUTHORIZED, *TERMINAL))
        if status != AUTHORIZED:
            result.holds.append(HoldAttempt(payment.payment_id, plan, never_authorized=status))
            return
        await asyncio.sleep(plan.delay_seconds)
        requests = await asyncio.gather(
            *(self._hold_request(client, payment, plan, kind, result) for kind in plan.requests)
        )
        result.holds.append(HoldAttempt(payment.payment_id, plan, tuple(requests)))

    async def _hold_request(
        self,
        client: httpx.AsyncClient,
        payment: CreatedPayment,
        plan: HoldPlan,
        kind: HoldRequestKind,
        result: LoadResult,
    ) -> HoldRequest:
        amount = plan.capture_amount if kind is HoldRequestKind.CAPTURE else None
        body = {} if amount is None else {"amount": amount}
        path = f"/payments/{payment.payment_id}/{kind.value}"
        key = f"{kind.value}-{payment.index}"
        answer = await self._final_answer(
            client, path, body, key, request_seconds=HOLD_REQUEST_TIMEOUT_SECONDS
        )
        if isinstance(answer, Answer):
            result.retried_requests += answer.requests - 1
        return hold_request(kind, amount, answer)

    async def _refund(
        self, client: httpx.AsyncClient, payment: CreatedPayment, result: LoadResult
    ) -> None:
        status = await self._final_status(client, payment.payment_id)
        if status != "completed":
            result.follow_ups.not_refunded.append(f"{payment.payment_id}: {status}")
            return
        action = payment.follow_up.action

        async def one(number: int, amount: int | None) -> None:
            body = {} if amount is None else {"amount": amount}
            path = f"/payments/{payment.payment_id}/refunds"
            key = f"refund-{payment.index}-{number}"
            answer = await self._final_answer(client, path, body, key)
            if isinstance(answer, Answer):
                result.retried_requests += answer.requests - 1
            attempt = refund_attempt(payment.payment_id, action, amount, answer)
            result.follow_ups.refunds.append(attempt)

        amounts = payment.follow_up.refunds
        if action is Action.REFUND_CONCURRENT_OVER:
            await asyncio.gather(*(one(n, amount) for n, amount in enumerate(amounts)))
            return
        for number, amount in enumerate(amounts):
            await one(number, amount)

    async def _final_status(
        self, client: httpx.AsyncClient, payment_id: str, until: tuple[str, ...] = TERMINAL
    ) -> str:
        """The payment's status once final (or in `until`), polled through faults ("unknown"
        if never)."""
        deadline = time.monotonic() + FINAL_WAIT_SECONDS
        status = "unknown"
        while time.monotonic() < deadline:
            try:
                response = await client.get(f"/payments/{payment_id}")
                if response.status_code == 200:
                    status = str(response.json()["data"]["status"])
                    if status in until:
                        return status
            except (httpx.TransportError, ValueError, KeyError):
                pass
            await asyncio.sleep(FINAL_POLL_SECONDS)
        return status

    async def _post(
        self, client: httpx.AsyncClient, path: str, body: Mapping[str, object], key: str
    ) -> tuple[str, int]:
        """The created object's id and how many requests it took."""
        answer = await self._final_answer(client, path, body, key)
        if isinstance(answer, str):
            raise PaymentRefused(answer)
        if answer.status != 201:
            raise PaymentRefused(f"{answer.status} {str(answer.body)[:200]}")
        data = answer.body["data"]
        assert isinstance(data, dict)
        return str(data["id"]), answer.requests

    async def _final_answer(
        self,
        client: httpx.AsyncClient,
        path: str,
        body: Mapping[str, object],
        key: str,
        request_seconds: float = REQUEST_TIMEOUT_SECONDS,
    ) -> Answer | str:
        """The API's first final answer to a POST, or why none came within the deadline."""
        headers = {"Idempotency-Key": f"chaos-{self._run_id}-{key}"}
        deadline = time.monotonic() + CREATE_DEADLINE_SECONDS
        retried: list[str] = []
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                response = await client.post(
                    path, json=body, headers=headers, timeout=request_seconds
                )
            except httpx.TransportError as error:
                last = f"{type(error).__name__}"
                retried.append(last)
            else:
                answer = Answer(response.status_code, _json(response), len(retried) + 1)
                if _final(answer):
                    return replace(answer, retried=tuple(retried))
                last = f"{response.status_code} {response.text[:200]}"
                retried.append(f"{response.status_code} {answer.error_code}")
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
        return f"not answered within {CREATE_DEADLINE_SECONDS:.0f} s: {last}"


def draw_payment(rng: random.Random, index: int, manual: int) -> CreatedPayment:
    """The `index`-th payment's card, amount and what follows it, `manual` manual ones drawn
    before it; in creation order, from the run's seed (reproducible)."""
    if rng.random() < MANUAL_SHARE:
        card = pick_card(rng, HOLDING_SCENARIOS)
        amount = rng.randint(100, 1_000_000)
        hold = draw_hold_plan(rng, manual, amount)
        return CreatedPayment(index, "", card, 0, amount, hold=hold)
    card = pick_card(rng, SCENARIOS)
    amount = rng.randint(100, 1_000_000)
    return CreatedPayment(index, "", card, 0, amount, draw_follow_up(rng, card, amount))


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _final(answer: Answer) -> bool:
    """Not worth a retry: anything but a busy, down or rate-limited API. A 409 is final when it
    is about the payment's state, not about the idempotency key still being in use."""
    if answer.status not in RETRIED_STATUSES:
        return True
    error = answer.body.get("error")
    return (
        answer.status == 409
        and isinstance(error, dict)
        and error.get("type") == ("invalid_state_error")
    )


class PaymentRefused(Exception):
    """The API answered with a final refusal, or never accepted the payment in time."""
