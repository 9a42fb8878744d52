"""The chaos run's money rules (issue 13) catch what they are there to catch: a payment or refund
left half-way, a capture the books do not show (or a completion the gateway does not), and a
refund the gateway made that we did not record (or the reverse)."""

from payments_devstack.chaos import money_rules
from tests.chaos.test_invariants import (
    checked,
    completed_ledger,
    failed_capture_ledger,
    payment,
)
from tests.chaos.test_refund_rules import checked_run, gateway_refund, refund, refunded_run

NON_TERMINAL = "no payment or refund left non-terminal"
CAPTURED = "captured at the gateway <=> completed or refunded here"
REFUNDED = "refunded at the gateway = refunded here (each refund, each payment)"


def test_the_money_rules_are_checked_and_a_clean_run_keeps_them() -> None:
    findings = checked(refunded_run())
    names = {rule.name for rule in findings.invariants}
    assert {NON_TERMINAL, CAPTURED, REFUNDED} <= names
    assert all(
        rule.checked > 0 and not rule.violations
        for rule in findings.invariants
        if rule.name in (NON_TERMINAL, CAPTURED, REFUNDED)
    )
    assert len(money_rules.RULES) == 3


def test_a_payment_or_refund_left_half_way_is_caught() -> None:
    payments = {
        "p1": {**payment("p1", "partially_refunded"), "amount_refunded": 600},
        "p3": payment("p3", "processing"),
    }
    refunds = {"r1": refund("r1", "p1", 600), "r2": refund("r2", "p1", 100, status="pending")}
    violations = checked_run(payments=payments, refunds=refunds)
    assert violations[NON_TERMINAL] == ["payment p3: processing", "refund r2: pending"]


def test_a_capture_left_processing_or_a_completion_never_captured_is_caught() -> None:
    # p3 was captured at the gateway but is still processing here (the lost completion); p4
    # completed here with nothing captured.
    payments = {
        "p1": {**payment("p1", "partially_refunded"), "amount_refunded": 600},
        "p3": payment("p3", "processing"),
        "p4": payment("p4", "completed"),
    }
    ledger = [
        *completed_ledger("p1"),
        gateway_refund("p1", "r1", 600),
        *completed_ledger("p3"),
        *failed_capture_ledger("p4"),
    ]
    violations = checked_run(payments=payments, ledger=ledger)
    assert violations[CAPTURED] == [
        "p3: captured at the gateway, processing",
        "p4: completed, never captured",
    ]


def test_a_refund_made_at_the_gateway_but_failed_here_is_caught() -> None:
    # The refund's answer was lost; had it been marked failed, the amount would be free again.
    refunds = {"r1": refund("r1", "p1", 600, status="failed")}
    payments = {"p1": payment("p1", "completed"), "p3": payment("p3", "cancelled")}
    violations = checked_run(refunds=refunds, payments=payments)
    assert violations[REFUNDED] == [
        "refund r1 failed: refunded at the gateway",
        "p1: amountRefunded 0, gateway refunded 600",
    ]


def test_a_refund_succeeded_here_but_never_made_is_caught() -> None:
    ledger = completed_ledger("p1")
    violations = checked_run(ledger=ledger)
    assert violations[REFUNDED] == [
        "refund r1 succeeded: not refunded at the gateway",
        "p1: amountRefunded 600, gateway refunded 0",
    ]
