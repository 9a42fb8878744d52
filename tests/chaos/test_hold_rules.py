"""The manual payments' checks catch what they are there to catch: a hold left (neither captured
nor voided), captured and voided both, a payment that ended otherwise than its hold, a 200 the
payment contradicts, a race with two winners, a hold authorized past its expiry or released
before it. Each starts from a clean run that breaks nothing."""

from datetime import timedelta
from typing import Any

from payments_devstack.chaos.holds import (
    HoldAction,
    HoldAttempt,
    HoldPlan,
    HoldRequest,
    HoldRequestKind,
)
from payments_devstack.chaos.load import CreatedPayment, LoadResult
from tests.chaos.test_invariants import (
    AMOUNT,
    CAPTURE_FAILS_CARD,
    GOOD_CARD,
    T0,
    broken,
    checked,
    clean_evidence,
    completed_ledger,
    entry,
    failed_capture_ledger,
    payment,
)

LEFT = "a hold is captured, voided or expired-and-voided, never left (ledger)"
ANSWERS = "capture and cancel answers agree with how the hold ended; one winner"
IN_TIME = "no hold authorized past its expiry + 60 s, none released early"
OUTCOME = "final status and failureReason match the card (or the won cancel or hold decision)"
TTL = timedelta(seconds=30)
PART = 400
CAPTURE, CANCEL = HoldRequestKind.CAPTURE, HoldRequestKind.CANCEL
PLANS = {
    "m1": HoldPlan(HoldAction.CAPTURE_FULL),
    "m2": HoldPlan(HoldAction.CAPTURE_PARTIAL, PART),
    "m3": HoldPlan(HoldAction.CANCEL),
    "m4": HoldPlan(HoldAction.EXPIRE),
    "m5": HoldPlan(HoldAction.RACE),
    "m6": HoldPlan(HoldAction.CAPTURE_FULL),
}
CARDS = {pid: GOOD_CARD for pid in PLANS} | {"m6": CAPTURE_FAILS_CARD}


def manual(
    pid: str, status: str, decision: str | None, captured: int = 0, **more: Any
) -> dict[str, Any]:
    """A manual payment created at T0, its hold expiring 30 s later."""
    row = payment(pid, status, more.get("reason"), took=more.get("took", 5))
    return {
        **row,
        "capture_method": "manual",
        "hold_decision": decision,
        "amount_to_capture": more.get("to_capture", captured or None),
        "amount_captured": captured,
        "authorization_expires_at": T0 + TTL,
    }


def won(kind: HoldRequestKind, status: str, captured: int = 0, amount: int | None = None) -> Any:
    return HoldRequest(kind, amount, 200, payment_status=status, amount_captured=captured)


def refused(kind: HoldRequestKind, code: str = "payment_hold_decided") -> HoldRequest:
    return HoldRequest(kind, status=409, code=code)


def voided_ledger(pid: str) -> list[dict[str, Any]]:
    return [
        entry(pid, "authorize", reference=f"auth-{pid}"),
        entry(pid, "void", reference=f"void-{pid}", parent=f"auth-{pid}"),
    ]


def ledger_without(pid: str) -> list[dict[str, Any]]:
    return [entry for entry in CLEAN_LEDGER if entry["payment_id"] != pid]


def partly_captured_ledger(pid: str, amount: int) -> list[dict[str, Any]]:
    authorize, capture = completed_ledger(pid)
    return [authorize, {**capture, "amount": amount}]


CLEAN_PAYMENTS = {
    "m1": manual("m1", "completed", "capture", AMOUNT),
    "m2": manual("m2", "completed", "capture", PART),
    "m3": manual("m3", "cancelled", "cancel"),
    "m4": manual("m4", "failed", "expire", reason="authorization_expired", took=32),
    "m5": manual("m5", "completed", "capture", AMOUNT),
    "m6": manual("m6", "failed", "capture", reason="capture_failed", to_capture=AMOUNT),
}
CLEAN_REQUESTS = {
    "m1": (won(CAPTURE, "completed", AMOUNT),),
    "m2": (won(CAPTURE, "completed", PART, amount=PART),),
    "m3": (won(CANCEL, "cancelled"),),
    "m4": (),
    "m5": (won(CAPTURE, "completed", AMOUNT), refused(CANCEL)),
    "m6": (won(CAPTURE, "failed"),),
}
CLEAN_LEDGER = [
    *completed_ledger("m1"),
    *partly_captured_ledger("m2", PART),
    *voided_ledger("m3"),
    *voided_ledger("m4"),
    *completed_ledger("m5"),
    *failed_capture_ledger("m6"),
]


def held_run(
    payments: dict[str, dict[str, Any]] | None = None,
    requests: dict[str, tuple[HoldRequest, ...]] | None = None,
    ledger: list[dict[str, Any]] | None = None,
    **changes: Any,
) -> Any:
    """The clean run of test_invariants plus six manual payments: captured in full, in part,
    cancelled, expired, a race the capture won, a capture the gateway refused (card 0259)."""
    base = clean_evidence()
    answers = {**CLEAN_REQUESTS, **(requests or {})}
    load = LoadResult(
        created=[
            *base.load.created,
            *(
                CreatedPayment(2 + n, pid, CARDS[pid], 1, AMOUNT, hold=PLANS[pid])
                for n, pid in enumerate(PLANS)
            ),
        ],
        holds=[HoldAttempt(pid, PLANS[pid], answers[pid]) for pid in PLANS],
    )
    fields: dict[str, Any] = {
        "load": load,
        "payments": {**base.payments, **CLEAN_PAYMENTS, **(payments or {})},
        "ledger": [*base.ledger, *(CLEAN_LEDGER if ledger is None else ledger)],
        "observed_at": T0 + timedelta(seconds=60),
    }
    fields.update(changes)
    return clean_evidence(**fields)


def violations_of(**changes: Any) -> dict[str, list[str]]:
    return broken(checked(held_run(**changes)))


def test_captures_cancels_expiries_and_races_that_keep_the_contract_break_nothing() -> None:
    findings = checked(held_run())
    assert broken(findings) == {}
    rules = {rule.name: rule.checked for rule in findings.invariants}
    # Six holds in the ledger, six merchants' plans, six manual payments.
    assert (rules[LEFT], rules[ANSWERS], rules[IN_TIME]) == (6, 6, 6)
    assert (
        "manual payments: 6 (captured in full 2, captured in part 1, cancelled 1, expired 1, "
        "capture refused, voided 1)"
    ) in findings.notes
    assert any("races won by: capture 1" in note for note in findings.notes)
    assert any(note.startswith("expired holds: 1, released after") for note in findings.notes)


def test_a_hold_left_neither_captured_nor_voided_is_caught() -> None:
    # m4's expiry never fired: still authorized 61 s after it, its authorization untouched.
    ledger = [*ledger_without("m4"), voided_ledger("m4")[0]]
    violations = violations_of(
        payments={"m4": manual("m4", "authorized", None)},
        ledger=ledger,
        observed_at=T0 + TTL + timedelta(seconds=61),
    )
    assert violations[LEFT] == [
        "m4: authorization auth-m4 neither captured nor voided, payment authorized"
    ]
    assert violations[IN_TIME] == ["m4: authorized 61.0 s past its expiry"]


def test_an_authorized_hold_within_the_margin_is_only_unfinished() -> None:
    ledger = [*ledger_without("m4"), voided_ledger("m4")[0]]
    violations = violations_of(payments={"m4": manual("m4", "authorized", None)}, ledger=ledger)
    assert IN_TIME not in violations
    assert violations["no payment or refund left non-terminal"] == ["payment m4: authorized"]


def test_a_hold_captured_and_voided_is_caught() -> None:
    ledger = [*CLEAN_LEDGER, entry("m1", "void", reference="void-m1", parent="auth-m1")]
    violations = violations_of(ledger=ledger)
    assert violations[LEFT] == ["m1: authorization auth-m1 capture and void, payment completed"]


def test_a_payment_that_ended_otherwise_than_its_hold_is_caught() -> None:
    payments = {
        # Captured at the gateway, yet cancelled here.
        "m1": manual("m1", "cancelled", "cancel"),
        # The gateway took 400; the books say all of it.
        "m2": manual("m2", "completed", "capture", AMOUNT, to_capture=PART),
        # Voided after the merchant's cancel, yet failed as expired.
        "m3": manual("m3", "failed", "cancel", reason="authorization_expired"),
    }
    violations = violations_of(payments=payments)
    assert violations[LEFT] == [
        "m1: hold captured (1000), decision cancel, payment cancelled",
        "m2: gateway captured 400 of 1000; decided 400, amountCaptured 1000",
        "m3: hold voided, decision cancel, payment failed/authorization_expired",
    ]


def test_a_race_with_two_winners_is_caught() -> None:
    violations = violations_of(
        requests={"m5": (won(CAPTURE, "completed", AMOUNT), won(CANCEL, "cancelled"))}
    )
    assert violations[ANSWERS] == [
        "m5 (capture racing a cancel): cancel answered 200 (cancelled), completed",
        "m5 (capture racing a cancel): capture and cancel both answered 200",
    ]


def test_answers_the_payment_contradicts_are_caught() -> None:
    requests = {
        # Told completed with 1000 captured; the payment holds 400.
        "m1": (won(CAPTURE, "completed", AMOUNT),),
        # Refused, yet the capture happened; and no answer at all for m3's cancel.
        "m2": (refused(CAPTURE),),
        "m3": (HoldRequest(CANCEL, unexpected="not answered within 180 s: 503"),),
        # Told cancelled; the hold expired.
        "m4": (won(CANCEL, "cancelled"),),
    }
    payments = {"m1": manual("m1", "completed", "capture", PART)}
    ledger = [*partly_captured_ledger("m1", PART), *ledger_without("m1")]
    violations = violations_of(requests=requests, payments=payments, ledger=ledger)
    assert violations[ANSWERS] == [
        "m1 (capture in full): capture of 1000 answered 200 (completed, amountCaptured 1000), "
        "completed with 400 captured",
        "m2 (partial capture): capture refused (payment_hold_decided), yet completed",
        "m2 (partial capture): completed, but no capture of the merchant's won",
        "m3 (cancel): cancel: not answered within 180 s: 503",
        "m4 (left to expire): cancel answered 200 (cancelled), failed/authorization_expired",
    ]
    # The outcome rule reads the same answers: without a won request (m2, m3) a hold expires;
    # m4's won cancel should have cancelled it.
    assert violations[OUTCOME] == [
        f"m2 card {GOOD_CARD}: completed/None, expected failed/authorization_expired",
        f"m3 card {GOOD_CARD}: cancelled/None, expected failed/authorization_expired",
        f"m4 card {GOOD_CARD}: failed/authorization_expired, expected cancelled/None",
    ]


def test_a_hold_that_ended_with_no_request_of_the_merchant_winning_is_caught() -> None:
    # m4 was left to expire, yet it was captured; m5's race: both refused, yet cancelled.
    payments = {
        "m4": manual("m4", "completed", "capture", AMOUNT),
        "m5": manual("m5", "cancelled", "cancel"),
    }
    ledger = [
        *[entry for entry in CLEAN_LEDGER if entry["payment_id"] not in ("m4", "m5")],
        *completed_ledger("m4"),
        *voided_ledger("m5"),
    ]
    requests = {"m5": (refused(CAPTURE), refused(CANCEL))}
    violations = violations_of(payments=payments, ledger=ledger, requests=requests)
    assert violations[ANSWERS] == [
        "m4 (left to expire): completed, but no capture of the merchant's won",
        "m5 (capture racing a cancel): cancel refused (payment_hold_decided), yet cancelled",
        "m5 (capture racing a cancel): cancelled, but no cancel of the merchant's won",
    ]


def test_a_manual_payment_never_authorized_is_caught_unless_it_expired_first() -> None:
    late = HoldAttempt("m4", PLANS["m4"], never_authorized="failed")
    load = held_run().load
    load.holds[3] = late
    assert ANSWERS not in violations_of(load=load)

    declined = manual("m4", "failed", None, reason="card_declined")
    violations = violations_of(load=load, payments={"m4": declined}, ledger=ledger_without("m4"))
    assert violations[ANSWERS] == [
        "m4 (left to expire): never authorized (last seen failed), failed/card_declined"
    ]


def test_a_hold_released_before_its_expiry_or_long_after_is_caught() -> None:
    payments = {
        "m4": manual("m4", "failed", "expire", reason="authorization_expired", took=25),
        "m3": manual("m3", "failed", "expire", reason="authorization_expired", took=95),
    }
    requests = {"m3": ()}
    violations = violations_of(payments=payments, requests=requests)
    assert violations[IN_TIME] == [
        "m3: released 65.0 s after its expiry",
        "m4: expired 5.0 s before its expiry",
    ]


def test_a_payment_asked_manual_but_created_automatic_is_caught() -> None:
    automatic = {**CLEAN_PAYMENTS["m1"], "capture_method": "automatic"}
    violations = violations_of(payments={"m1": automatic})
    assert violations[ANSWERS] == ["m1 (capture in full): created manual, captureMethod automatic"]
