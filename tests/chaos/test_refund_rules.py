"""The refund and cancel checks catch what they are there to catch: over-refunds, a refund
moved twice or never, a refund left pending, a cancel answered 200 for a charged payment."""

from datetime import timedelta
from typing import Any

from payments_devstack.chaos.evidence import Evidence
from payments_devstack.chaos.follow_up import (
    CANCELLED,
    REFUSED,
    Action,
    CancelAttempt,
    FollowUpResult,
    RefundAttempt,
)
from payments_devstack.chaos.load import CreatedPayment, LoadResult
from tests.chaos.test_invariants import (
    AMOUNT,
    GOOD_CARD,
    T0,
    broken,
    checked,
    clean_evidence,
    completed_ledger,
    entry,
    event,
    payment,
    received,
)

OVER = Action.REFUND_CONCURRENT_OVER
ANSWERED = "refund requests accepted or refused as the contract says"
WITHIN = "refunded total within the captured amount (tables and ledger)"
ONCE = "each succeeded refund once in the ledger, a failed one never"
FINAL = "refunds succeeded within 120 s"
CANCELS = "cancels: 200 only before the charge (never charged), else 409"
OUTCOME = "final status and failureReason match the card (or the won cancel or hold decision)"


def refund(rid: str, pid: str, amount: int, status: str = "succeeded") -> dict[str, Any]:
    return {
        "id": rid,
        "payment_id": pid,
        "amount": amount,
        "status": status,
        "failure_reason": "refund_failed" if status == "failed" else None,
        "created_at": T0,
        "updated_at": T0 + timedelta(seconds=3),
    }


def gateway_refund(pid: str, rid: str, amount: int) -> dict[str, Any]:
    return entry(
        pid,
        "refund",
        reference=f"ref-{rid}",
        parent=f"cap-{pid}",
        key=f"{rid}-refund",
        amount=amount,
    )


def refunded_run(**changes: Any) -> Evidence:
    """p1 refunded in full by the winner of two concurrent refunds (600 + 700 > 1000 asked);
    p3 cancelled at once; both clean."""
    follow_ups = FollowUpResult(
        refunds=[
            RefundAttempt("p1", OVER, 600, refund_id="r1"),
            RefundAttempt("p1", OVER, 700, refused="amount_too_large"),
        ],
        cancels=[CancelAttempt("p3", racing=False, answer=CANCELLED)],
    )
    load = LoadResult(
        created=[
            CreatedPayment(0, "p1", GOOD_CARD, 1, AMOUNT),
            CreatedPayment(1, "p3", GOOD_CARD, 1, AMOUNT),
        ],
        follow_ups=follow_ups,
    )
    p1 = {**payment("p1", "partially_refunded"), "amount_refunded": 600}
    fields: dict[str, Any] = {
        "load": load,
        "payments": {"p1": p1, "p3": payment("p3", "cancelled")},
        "ledger": [*completed_ledger("p1"), gateway_refund("p1", "r1", 600)],
        "events": {"e1": event("e1", "p1", "partially_refunded")},
        "deliveries": {"succeeded": 1},
        "received": [received("e1", "partially_refunded")],
        "refunds": {"r1": refund("r1", "p1", 600)},
    }
    fields.update(changes)
    return clean_evidence(**fields)


def checked_run(**changes: Any) -> dict[str, list[str]]:
    evidence = refunded_run(**changes)
    return broken(checked(evidence))


def test_refunds_and_a_cancel_that_keep_the_contract_break_nothing() -> None:
    findings = checked(refunded_run())
    assert broken(findings) == {}
    assert any(note.startswith("refund requests: 2 on 1 payments") for note in findings.notes)
    assert any(note.startswith("cancels: 1 (at once cancelled 1)") for note in findings.notes)


def test_both_concurrent_refunds_accepted_is_caught() -> None:
    load = refunded_run().load
    load.follow_ups.refunds[1] = RefundAttempt("p1", OVER, 700, refund_id="r2")
    violations = checked_run(load=load)
    assert violations[ANSWERED] == ["p1: two refunds over the amount, 2 accepted"]


def test_more_refunded_than_captured_is_caught() -> None:
    p1 = {**payment("p1", "refunded"), "amount_refunded": 1300}
    refunds = {"r1": refund("r1", "p1", 600), "r2": refund("r2", "p1", 700)}
    ledger = [
        *completed_ledger("p1"),
        gateway_refund("p1", "r1", 600),
        gateway_refund("p1", "r2", 700),
    ]
    violations = checked_run(
        payments={"p1": p1, "p3": payment("p3", "cancelled")}, refunds=refunds, ledger=ledger
    )
    assert violations[WITHIN] == [
        "p1: refunds of 1300 on 1000",
        "p1: gateway refunded 1300 of 1000 captured",
    ]


def test_a_refund_moved_twice_or_a_failed_one_moved_is_caught() -> None:
    ledger = [
        *completed_ledger("p1"),
        gateway_refund("p1", "r1", 600),
        {**gateway_refund("p1", "r1", 600), "idempotency_key": "stray-refund"},
    ]
    violations = checked_run(ledger=ledger)
    assert violations[ONCE] == ["gateway refund stray: no refund of ours"]
    assert violations[WITHIN] == [
        "p1: gateway refunded 1200 of 1000 captured",
        "p1: amountRefunded 600, succeeded refunds 600, gateway refunds 1200",
    ]

    failed = {"r1": refund("r1", "p1", 600, status="failed")}
    violations = checked_run(refunds=failed)
    assert "refund r1 failed: 1 approved gateway refunds" in violations[ONCE]
    assert violations[FINAL] == ["refund r1: failed refund_failed"]


def test_a_refund_left_pending_is_caught() -> None:
    violations = checked_run(refunds={"r1": refund("r1", "p1", 600, status="pending")})
    assert violations[FINAL] == ["refund r1: pending"]


def test_a_cancel_answered_200_for_a_charged_payment_is_caught() -> None:
    ledger = [*completed_ledger("p1"), gateway_refund("p1", "r1", 600), *completed_ledger("p3")]
    violations = checked_run(
        ledger=ledger,
        payments={
            "p1": {**payment("p1", "partially_refunded"), "amount_refunded": 600},
            "p3": payment("p3", "completed"),
        },
    )
    assert violations[CANCELS] == [
        "p3: cancel answered 200, completed",
        "p3: cancelled, yet sent to the gateway",
    ]
    assert violations[OUTCOME] == [f"p3 card {GOOD_CARD}: completed/None, expected cancelled/None"]


def test_a_refused_cancel_on_a_cancelled_payment_is_caught() -> None:
    load = refunded_run().load
    load.follow_ups.cancels[0] = CancelAttempt("p3", racing=True, answer=REFUSED)
    violations = checked_run(load=load)
    assert violations[CANCELS] == [
        "p3: cancel refused, yet cancelled",
        "p3: cancelled, but no cancel of the merchant's won",
    ]
