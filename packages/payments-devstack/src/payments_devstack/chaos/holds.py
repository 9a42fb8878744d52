"""What the merchant does with a payment it captures later (`captureMethod: manual`).

A share of the payments is created manual, with a card that authorizes (a declined manual
payment ends before any hold, exactly like an automatic one). Once the payment is `authorized`
(polled through the API) and after a short delay, the merchant captures all of it, captures a
part, cancels it (the hold is voided), leaves it to expire (AUTHORIZATION_TTL_SECONDS, short
under chaos: plan.py), or sends a capture and a cancel at once (one may win, the other gets 409).
The actions come in turn rather than drawn, so that even a reduced run sees each of them.

Every request has its own Idempotency-Key and is retried with it like any other (load.py): a 503
`hold_decision_pending` (the decision is committed, the workflow did not carry it out in time)
until the outcome comes; a 409 `invalid_state_error` is final.
"""

import random
from dataclasses import dataclass
from enum import StrEnum

from payments_devstack.chaos.cards import Expected
from payments_devstack.chaos.follow_up import Answer

MANUAL_SHARE = 0.3
# After the payment is seen authorized: well within the hold's life, so that most decisions
# beat the expiry; one held back by a fault may not, and then the expiry wins (a 409).
DECISION_DELAY_SECONDS = (0.0, 8.0)
# Of the races: how many capture a part rather than all of it.
RACE_PARTIAL_SHARE = 0.5
PENDING_CODE = "hold_decision_pending"
AUTHORIZATION_EXPIRED = "authorization_expired"
CAPTURE_FAILED = "capture_failed"


class HoldAction(StrEnum):
    CAPTURE_FULL = "capture in full"
    CAPTURE_PARTIAL = "partial capture"
    CANCEL = "cancel"
    EXPIRE = "left to expire"
    RACE = "capture racing a cancel"


HOLD_ACTIONS = tuple(HoldAction)


@dataclass(frozen=True)
class HoldPlan:
    action: HoldAction
    # The capture's amount; None: all of it.
    capture_amount: int | None = None
    delay_seconds: float = 0.0

    @property
    def requests(self) -> tuple["HoldRequestKind", ...]:
        """What the merchant sends once the payment is authorized (all at once)."""
        return _REQUESTS[self.action]


def draw_hold_plan(rng: random.Random, turn: int, amount: int) -> HoldPlan:
    """The plan of the `turn`-th manual payment: its action in turn, its amount and delay drawn."""
    action = HOLD_ACTIONS[turn % len(HOLD_ACTIONS)]
    delay = rng.uniform(*DECISION_DELAY_SECONDS)
    partial = action is HoldAction.CAPTURE_PARTIAL or (
        action is HoldAction.RACE and rng.random() < RACE_PARTIAL_SHARE
    )
    if partial and amount >= 2:
        return HoldPlan(action, rng.randint(1, amount - 1), delay)
    return HoldPlan(action, None, delay)


class HoldRequestKind(StrEnum):
    CAPTURE = "capture"
    CANCEL = "cancel"


_REQUESTS = {
    HoldAction.CAPTURE_FULL: (HoldRequestKind.CAPTURE,),
    HoldAction.CAPTURE_PARTIAL: (HoldRequestKind.CAPTURE,),
    HoldAction.CANCEL: (HoldRequestKind.CANCEL,),
    HoldAction.EXPIRE: (),
    HoldAction.RACE: (HoldRequestKind.CAPTURE, HoldRequestKind.CANCEL),
}


@dataclass(frozen=True)
class HoldRequest:
    """One capture or cancel and its final answer."""

    kind: HoldRequestKind
    # What a capture asked for (None: all of it).
    amount: int | None = None
    # The final answer's HTTP status, and the error code of a refusal.
    status: int | None = None
    code: str | None = None
    # A 200's payment: its status and amountCaptured.
    payment_status: str | None = None
    amount_captured: int | None = None
    # 503 hold_decision_pending answers before the final one (each retried with the same key).
    pending_answers: int = 0
    # No final answer in time, or an answer the contract does not have.
    unexpected: str | None = None

    @property
    def won(self) -> bool:
        return self.status == 200

    @property
    def refused(self) -> bool:
        return self.status == 409 and self.unexpected is None


@dataclass(frozen=True)
class HoldAttempt:
    payment_id: str
    plan: HoldPlan
    requests: tuple[HoldRequest, ...] = ()
    # The status the payment ended with when it never showed `authorized` to the merchant.
    never_authorized: str | None = None


def hold_request(kind: HoldRequestKind, amount: int | None, answer: Answer | str) -> HoldRequest:
    if isinstance(answer, str):
        return HoldRequest(kind, amount, unexpected=answer)
    pending = sum(1 for seen in answer.retried if seen.endswith(PENDING_CODE))
    if answer.status == 200:
        data = answer.body.get("data")
        payment = data if isinstance(data, dict) else {}
        captured = payment.get("amountCaptured")
        return HoldRequest(
            kind,
            amount,
            200,
            payment_status=str(payment.get("status")),
            amount_captured=captured if isinstance(captured, int) else None,
            pending_answers=pending,
        )
    # A 409 is a final refusal (load.py retries the other kinds); anything else is not ours.
    unexpected = None if answer.status == 409 else f"HTTP {answer.status} {answer.error_code}"
    return HoldRequest(
        kind,
        amount,
        answer.status,
        answer.error_code,
        pending_answers=pending,
        unexpected=unexpected,
    )


def expected_of_hold(card: Expected, attempt: HoldAttempt | None) -> Expected:
    """How a manual payment must end, given its card and the merchant's answers: as the card
    says once a capture won (completed, or failed/capture_failed), cancelled once a cancel won,
    otherwise expired; a card that never authorizes fails as it always does."""
    if card.status != "completed" and card.failure_reason != CAPTURE_FAILED:
        return card
    won = {request.kind for request in attempt.requests if request.won} if attempt else set()
    if HoldRequestKind.CAPTURE in won:
        return card
    if HoldRequestKind.CANCEL in won:
        return Expected("cancelled")
    return Expected("failed", AUTHORIZATION_EXPIRED)
