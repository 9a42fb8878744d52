"""The chaos checks themselves: each one catches what it is there to catch (a checker that
always answers zero would prove nothing)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from payments_devstack.chaos.invariants import Evidence, Findings, check
from payments_devstack.chaos.load import CreatedPayment, LoadResult
from payments_devstack.chaos.observe import DeadLetter

GOOD_CARD = "4242424242424242"
CAPTURE_FAILS_CARD = "4000000000000259"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
AMOUNT = 1000


def payment(pid: str, status: str, reason: str | None = None, took: float = 5) -> dict[str, Any]:
    return {
        "id": pid,
        "status": status,
        "failure_reason": reason,
        "amount": AMOUNT,
        "amount_refunded": 0,
        "created_at": T0,
        "ended_at": T0 + timedelta(seconds=took),
    }


def entry(
    pid: str | None, operation: str, outcome: str = "approved", **more: Any
) -> dict[str, Any]:
    return {
        "payment_id": pid,
        "operation": operation,
        "outcome": outcome,
        "reference": more.get("reference"),
        "parent_reference": more.get("parent"),
        "idempotency_key": more.get("key", f"{pid}-{operation}"),
        "decline_code": None,
        "amount": more.get("amount", AMOUNT),
    }


def completed_ledger(pid: str) -> list[dict[str, Any]]:
    return [
        entry(pid, "authorize", reference=f"auth-{pid}"),
        entry(pid, "capture", reference=f"cap-{pid}", parent=f"auth-{pid}"),
    ]


def failed_capture_ledger(pid: str) -> list[dict[str, Any]]:
    return [
        entry(pid, "authorize", reference=f"auth-{pid}"),
        entry(pid, "capture", "failed", parent=f"auth-{pid}"),
        entry(pid, "void", reference=f"void-{pid}", parent=f"auth-{pid}"),
    ]


def event(eid: str, pid: str, status: str) -> dict[str, Any]:
    return {
        "id": eid,
        "event_type": f"payment.{status}",
        "published": True,
        "payment_id": pid,
        "payment_status": status,
    }


def received(eid: str, status: str, webhook_id: str | None = None) -> dict[str, Any]:
    return {"webhookId": webhook_id or eid, "eventId": eid, "paymentStatus": status}


def clean_evidence(**changes: Any) -> Evidence:
    fields: dict[str, Any] = {
        "load": LoadResult(
            created=[
                CreatedPayment(0, "p1", GOOD_CARD, 1),
                CreatedPayment(1, "p2", CAPTURE_FAILS_CARD, 3),
            ]
        ),
        "payments": {
            "p1": payment("p1", "completed"),
            "p2": payment("p2", "failed", "capture_failed"),
        },
        "ledger": completed_ledger("p1") + failed_capture_ledger("p2"),
        "events": {"e1": event("e1", "p1", "completed"), "e2": event("e2", "p2", "failed")},
        "deliveries": {"succeeded": 2},
        "received": [
            received("e1", "completed"),
            received("e2", "failed"),
            received("e2", "failed"),
        ],
        "dead_letters": [],
        "crashes": [],
    }
    fields.update(changes)
    return Evidence(**fields)


def checked(evidence: Evidence) -> Findings:
    return check(evidence, planned=2, bound=timedelta(seconds=120))


def broken(findings: Findings) -> dict[str, list[str]]:
    return {rule.name: rule.violations for rule in findings.invariants if rule.violations}


def test_a_clean_run_has_no_violation_and_a_repeated_webhook_is_fine() -> None:
    findings = checked(clean_evidence())
    assert broken(findings) == {}
    assert any("1 received more than once" in note for note in findings.notes)


def test_a_second_capture_at_the_gateway_is_caught() -> None:
    ledger = [
        *completed_ledger("p1"),
        entry("p1", "capture", reference="cap-2", key="other"),
        *failed_capture_ledger("p2"),
    ]
    assert list(broken(checked(clean_evidence(ledger=ledger)))) == [
        "at most one authorization and one capture per payment (ledger)",
        "completed (and refunded) payments: authorized, captured once, not voided",
    ]


def test_a_failed_payment_whose_hold_was_never_voided_is_caught() -> None:
    ledger = completed_ledger("p1") + failed_capture_ledger("p2")[:2]
    violations = broken(checked(clean_evidence(ledger=ledger)))
    assert violations == {
        "failed payments: every authorization voided, nothing captured": [
            "p2: authorization auth-p2 held"
        ]
    }


def test_a_payment_stuck_late_or_with_the_wrong_outcome_is_caught() -> None:
    payments = {
        "p1": payment("p1", "failed", "processing_error", took=200),
        "p2": payment("p2", "processing"),
    }
    violations = broken(checked(clean_evidence(payments=payments)))
    assert violations["terminal within 120 s of creation"] == [
        "p1: 200.0 s",
        "p2: still processing",
    ]
    assert violations[
        "final status and failureReason match the card (or the won cancel or hold decision)"
    ] == [f"p1 card {GOOD_CARD}: failed/processing_error, expected completed/None"]


def test_lost_mislabelled_or_altered_webhooks_are_caught() -> None:
    webhooks = [received("e1", "completed", webhook_id="evt_other"), received("e2", "pending")]
    violations = broken(checked(clean_evidence(received=webhooks)))
    assert violations == {
        "events delivered to the merchant, webhook-id = event id": [
            "webhook-id evt_other carried event e1",
            "e2: content differs from the event log",
            "e1 (payment.completed): never received",
        ]
    }


def test_unpublished_rows_unexplained_dead_letters_and_crashes_are_caught() -> None:
    events = {
        "e1": {**event("e1", "p1", "completed"), "published": False},
        "e2": event("e2", "p2", "failed"),
    }
    dead = [
        DeadLetter(
            "payment-processing-queue",
            "m1",
            {"id": "e0", "type": "payment.initiated", "data": {"payment": {"id": "p1"}}},
        ),
        DeadLetter("payment-webhook-queue", "m2", {"id": "e9", "type": "payment.failed"}),
    ]
    findings = checked(clean_evidence(events=events, dead_letters=dead, crashes=["worker died"]))
    assert broken(findings) == {
        "outbox rows published": ["e1: unpublished"],
        "dead-letter queues empty or every message explained": [
            "payment-webhook-queue-dlq m2 payment.failed e9: unexplained"
        ],
        "no process died on its own (only the injected faults)": ["worker died"],
    }
    assert any(
        note.startswith("explained: payment-processing-queue-dlq m1") for note in findings.notes
    )


def test_a_payment_created_twice_or_never_is_caught() -> None:
    load = LoadResult(created=[CreatedPayment(0, "p1", GOOD_CARD, 1)], refused=["payment #1: 400"])
    violations = broken(checked(clean_evidence(load=load)))
    assert violations["payments accepted once each (idempotent retries)"] == [
        "payment #1: 400",
        "p2: in the database, never returned to the merchant",
    ]


def test_processing_error_during_a_database_outage_is_not_excused() -> None:
    """A gateway activity waits out our database, so a card that fails anyway must still fail
    with its own reason when PostgreSQL went down under its gateway calls."""
    outage = ((T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)),)
    payments = {
        "p1": payment("p1", "completed"),
        "p2": payment("p2", "failed", "processing_error"),
    }
    findings = checked(clean_evidence(payments=payments, database_outages=outage))
    assert broken(findings) == {
        "final status and failureReason match the card (or the won cancel or hold decision)": [
            f"p2 card {CAPTURE_FAILS_CARD}: failed/processing_error, expected failed/capture_failed"
        ]
    }
    assert any("PostgreSQL outages: 1; payments in flight then: 2" in n for n in findings.notes)


def refund_row(rid: str, status: str) -> dict[str, Any]:
    return {
        "id": rid,
        "payment_id": "p1",
        "amount": 10,
        "status": status,
        "failure_reason": None,
        "created_at": T0,
        "updated_at": T0,
    }


def test_a_dead_lettered_refund_event_is_explained_only_by_a_finished_refund() -> None:
    def dead_refund_event(message_id: str, refund_id: str) -> DeadLetter:
        body = {"refund": {"id": refund_id, "paymentId": "p1"}}
        return DeadLetter(
            "payment-processing-queue",
            message_id,
            {"id": message_id, "type": "refund.created", "data": body},
        )

    refunds = {"r1": refund_row("r1", "succeeded"), "r2": refund_row("r2", "pending")}
    dead = [dead_refund_event("m1", "r1"), dead_refund_event("m2", "r2")]
    findings = checked(clean_evidence(dead_letters=dead, refunds=refunds))

    rule = next(r for r in findings.invariants if r.name.startswith("dead-letter queues"))
    assert rule.violations == [
        "payment-processing-queue-dlq m2 refund.created m2: refund r2 still pending"
    ]
    assert any("refund r1 succeeded (sweeper)" in note for note in findings.notes)
