"""The merchant's manual payments (chaos/holds.py): drawn with cards that authorize, each action
in turn, partial amounts below the hold; answers read as the merchant met them (503s counted,
a 409 final, anything else unexpected)."""

import random

from payments_devstack.chaos.cards import HOLDING_SCENARIOS, cards_of
from payments_devstack.chaos.follow_up import Answer
from payments_devstack.chaos.holds import (
    HOLD_ACTIONS,
    HoldRequestKind,
    draw_hold_plan,
    hold_request,
)
from payments_devstack.chaos.load import CreatedPayment, draw_payment

CAPTURE, CANCEL = HoldRequestKind.CAPTURE, HoldRequestKind.CANCEL
AMOUNT = 1000


def drawn(count: int, seed: int) -> list[CreatedPayment]:
    """The payments `create_payments` would draw, in order."""
    rng, payments = random.Random(seed), []
    for index in range(count):
        manual = sum(1 for payment in payments if payment.hold is not None)
        payments.append(draw_payment(rng, index, manual))
    return payments


def test_the_reduced_run_plans_every_action_with_cards_that_authorize() -> None:
    manual = [payment for payment in drawn(50, seed=7) if payment.hold is not None]
    # MANUAL_SHARE (0.3) of the reduced run's 50, each action in turn: every one at least twice.
    assert 10 <= len(manual) <= 20
    assert [payment.hold.action for payment in manual if payment.hold] == [
        HOLD_ACTIONS[turn % len(HOLD_ACTIONS)] for turn in range(len(manual))
    ]
    holding = {card for scenario in HOLDING_SCENARIOS for card in cards_of(scenario)}
    assert {payment.card for payment in manual} <= holding
    automatic = [payment for payment in drawn(50, seed=7) if payment.hold is None]
    assert {payment.card for payment in automatic} - holding, "declines stay automatic"


def test_a_partial_capture_asks_for_less_than_the_hold() -> None:
    rng = random.Random(3)
    for _ in range(200):
        plan = draw_hold_plan(rng, turn=1, amount=AMOUNT)
        assert plan.capture_amount is not None and 0 < plan.capture_amount < AMOUNT
        assert plan.requests == (CAPTURE,)
    race = draw_hold_plan(rng, turn=4, amount=AMOUNT)
    assert race.requests == (CAPTURE, CANCEL)
    assert draw_hold_plan(rng, turn=3, amount=AMOUNT).requests == ()


def test_answers_are_read_as_the_merchant_met_them() -> None:
    body: dict[str, object] = {"data": {"status": "completed", "amountCaptured": 400}}
    retried = ("503 hold_decision_pending", "ReadTimeout", "503 hold_decision_pending")
    captured = hold_request(CAPTURE, 400, Answer(200, body, 4, retried))
    assert (captured.won, captured.payment_status, captured.amount_captured) == (
        True,
        "completed",
        400,
    )
    assert captured.pending_answers == 2

    conflict = {"error": {"type": "invalid_state_error", "code": "payment_hold_decided"}}
    lost = hold_request(CANCEL, None, Answer(409, conflict, 1))
    assert (lost.won, lost.refused, lost.code, lost.unexpected) == (
        False,
        True,
        "payment_hold_decided",
        None,
    )

    invalid = {"error": {"type": "invalid_request_error", "code": "amount_too_large"}}
    too_much = hold_request(CAPTURE, AMOUNT + 1, Answer(400, invalid, 1))
    assert too_much.unexpected == "HTTP 400 amount_too_large"
    assert hold_request(CANCEL, None, "not answered within 180 s").unexpected == (
        "not answered within 180 s"
    )
