"""What the merchant does after a payment is accepted: cancel it, or refund it once completed.

Each payment draws one follow-up when it is created (seeded, like its card): a cancel sent at
once (before the charge, as a rule) or after a short random delay (racing the charge), or, for a
card that completes, refunds: the full amount, a part, two parts that add up to the whole, or two
concurrent refunds that together exceed it (exactly one may be accepted). Every request has its
own Idempotency-Key and is retried with it through API kills until it gets a final answer.
"""

import random
from dataclasses import dataclass, field
from enum import StrEnum

from payments_devstack.chaos.cards import expected_for

CANCEL_AT_ONCE_SHARE = 0.05
CANCEL_RACING_SHARE = 0.05
# Of the payments whose card completes (and that are not cancelled): how many get refunds.
REFUND_SHARE = 0.8
# A racing cancel waits this long after the payment was accepted: around when the charge starts
# under chaos (the event's trip to the processor, the workflow's first steps), so some win and
# some find the charge started (409).
RACING_DELAY_SECONDS = (0.5, 8.0)


class Action(StrEnum):
    NONE = "none"
    CANCEL_AT_ONCE = "cancel before the charge"
    CANCEL_RACING = "cancel racing the charge"
    REFUND_FULL = "full refund"
    REFUND_PARTIAL = "partial refund"
    REFUND_TWICE = "two partial refunds adding up to the amount"
    REFUND_CONCURRENT_OVER = "two concurrent refunds exceeding the amount"


CANCELS = (Action.CANCEL_AT_ONCE, Action.CANCEL_RACING)
REFUNDS = (
    Action.REFUND_FULL,
    Action.REFUND_PARTIAL,
    Action.REFUND_TWICE,
    Action.REFUND_CONCURRENT_OVER,
)


@dataclass(frozen=True)
class FollowUp:
    action: Action = Action.NONE
    # Before a racing cancel.
    delay_seconds: float = 0.0
    # The refunds' amounts (None: the full remaining amount); concurrent for CONCURRENT_OVER.
    refunds: tuple[int | None, ...] = ()


def draw_follow_up(rng: random.Random, card: str, amount: int) -> FollowUp:
    """One follow-up for a new payment; the draws happen in creation order (reproducible)."""
    roll = rng.random()
    if roll < CANCEL_AT_ONCE_SHARE:
        return FollowUp(Action.CANCEL_AT_ONCE)
    if roll < CANCEL_AT_ONCE_SHARE + CANCEL_RACING_SHARE:
        return FollowUp(Action.CANCEL_RACING, delay_seconds=rng.uniform(*RACING_DELAY_SECONDS))
    if expected_for(card).status != "completed" or rng.random() >= REFUND_SHARE or amount < 2:
        return FollowUp()
    action = rng.choice(REFUNDS)
    if action is Action.REFUND_FULL:
        return FollowUp(action, refunds=(None,))
    if action is Action.REFUND_PARTIAL:
        return FollowUp(action, refunds=(rng.randint(1, amount - 1),))
    if action is Action.REFUND_TWICE:
        first = rng.randint(1, amount - 1)
        return FollowUp(action, refunds=(first, amount - first))
    half = amount // 2 + 1
    return FollowUp(action, refunds=(rng.randint(half, amount), rng.randint(half, amount)))


@dataclass(frozen=True)
class CancelAttempt:
    payment_id: str
    racing: bool
    # "cancelled" (200), "refused" (409 invalid_state_error) or what else happened.
    answer: str


CANCELLED = "cancelled"
REFUSED = "refused"


@dataclass(frozen=True)
class RefundAttempt:
    payment_id: str
    action: Action
    amount: int | None
    # The refund's id when the API accepted it (201).
    refund_id: str | None = None
    # The error code of a final refusal (amount_too_large, payment_not_refundable).
    refused: str | None = None
    # Anything else: no final answer in time, an unexpected status.
    unexpected: str | None = None


@dataclass
class FollowUpResult:
    cancels: list[CancelAttempt] = field(default_factory=list)
    refunds: list[RefundAttempt] = field(default_factory=list)
    # Payments meant for refunds that never reached `completed` (their outcome is checked
    # elsewhere): payment id and the status they had.
    not_refunded: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, object]
    requests: int
    # What each earlier request met instead: "503 hold_decision_pending", "ReadTimeout"...
    retried: tuple[str, ...] = ()

    @property
    def error_code(self) -> str:
        error = self.body.get("error")
        return str(error.get("code")) if isinstance(error, dict) else f"HTTP {self.status}"


def refund_attempt(
    payment_id: str, action: Action, amount: int | None, answer: Answer | str
) -> RefundAttempt:
    if isinstance(answer, str):
        return RefundAttempt(payment_id, action, amount, unexpected=answer)
    if answer.status == 201:
        data = answer.body.get("data")
        refund_id = str(data.get("id")) if isinstance(data, dict) else None
        return RefundAttempt(payment_id, action, amount, refund_id=refund_id)
    if answer.status in (400, 409):
        return RefundAttempt(payment_id, action, amount, refused=answer.error_code)
    return RefundAttempt(payment_id, action, amount, unexpected=f"HTTP {answer.status}")


def cancel_answer(answer: Answer | str) -> str:
    if isinstance(answer, str):
        return answer
    if answer.status == 200:
        return CANCELLED
    if answer.status == 409 and answer.error_code == "payment_not_cancellable":
        return REFUSED
    return f"HTTP {answer.status} {answer.error_code}"
