"""The sandbox test cards (CONTRACT.md §1) and the final state each one must reach."""

import random
from dataclasses import dataclass

from payments_core.gateway.test_cards import TEST_CARDS, CardBehaviour


@dataclass(frozen=True)
class Expected:
    status: str
    failure_reason: str | None = None


EXPECTED: dict[CardBehaviour, Expected] = {
    CardBehaviour.SUCCEED: Expected("completed"),
    CardBehaviour.DECLINE: Expected("failed", "card_declined"),
    CardBehaviour.INSUFFICIENT_FUNDS: Expected("failed", "insufficient_funds"),
    CardBehaviour.TRANSIENT_THEN_SUCCEED: Expected("completed"),
    CardBehaviour.CAPTURE_FAILS: Expected("failed", "capture_failed"),
    CardBehaviour.TIMEOUT: Expected("failed", "gateway_timeout"),
    # Completes; its refunds' answers are lost, so the reconciler settles them.
    CardBehaviour.REFUND_TIMEOUT: Expected("completed"),
}

SCENARIOS: tuple[CardBehaviour, ...] = tuple(EXPECTED)
# The cards that authorize: what a manual payment is made with (holds.py).
HOLDING_SCENARIOS: tuple[CardBehaviour, ...] = (
    CardBehaviour.SUCCEED,
    CardBehaviour.TRANSIENT_THEN_SUCCEED,
    CardBehaviour.CAPTURE_FAILS,
    CardBehaviour.REFUND_TIMEOUT,
)


def cards_of(behaviour: CardBehaviour) -> list[str]:
    return [number for number, plays in TEST_CARDS.items() if plays is behaviour]


def pick_card(rng: random.Random, scenarios: tuple[CardBehaviour, ...] = SCENARIOS) -> str:
    """A scenario first, uniformly, then one of its cards: each outcome gets its share."""
    return rng.choice(cards_of(rng.choice(scenarios)))


def expected_for(card: str) -> Expected:
    return EXPECTED[TEST_CARDS[card]]


def scenario_of(card: str) -> str:
    return TEST_CARDS[card].value
