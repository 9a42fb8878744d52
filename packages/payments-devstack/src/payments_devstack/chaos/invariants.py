"""What must hold after a chaos run, checked from the tables, the ledger, the merchant's receiver
and the dead-letter queues. Each check names every payment or event that breaks it."""

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from payments_devstack.chaos import follow_up, hold_rules, holds, money_rules, refund_rules
from payments_devstack.chaos.cards import Expected, expected_for
from payments_devstack.chaos.evidence import Evidence, Findings, Invariant, gather
from payments_devstack.chaos.observe import TERMINAL

__all__ = ["Evidence", "Findings", "Invariant", "check", "gather"]

# A completed payment that was then refunded, in part or in full.
REFUNDED = ("partially_refunded", "refunded")


def check(evidence: Evidence, *, planned: int, bound: timedelta) -> Findings:
    findings = Findings(invariants=[])
    for rule in (
        _accepted,
        _terminal_within_bound,
        _outcome_matches_card,
        _gateway_once,
        _failed_hold_nothing,
        _completed_captured,
        _outbox_published,
        _webhooks_delivered,
        _dead_letters_explained,
        _no_crashes,
        *refund_rules.RULES,
        *money_rules.RULES,
        *hold_rules.RULES,
    ):
        findings.invariants.append(rule(evidence, findings.notes, planned=planned, bound=bound))
    return findings


def _accepted(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("payments accepted once each (idempotent retries)", checked=context["planned"])
    rule.violations += evidence.load.refused
    created = {payment.payment_id for payment in evidence.load.created}
    for pid in created - evidence.payments.keys():
        rule.violations.append(f"{pid}: created by the API, not in the database")
    for pid in evidence.payments.keys() - created:
        rule.violations.append(f"{pid}: in the database, never returned to the merchant")
    notes.append(f"API requests retried by the merchant: {evidence.load.retried_requests}")
    return rule


def _terminal_within_bound(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    bound: timedelta = context["bound"]
    rule = Invariant(f"terminal within {bound.total_seconds():.0f} s of creation")
    took = []
    for payment in _created(evidence):
        rule.checked += 1
        if payment["status"] not in TERMINAL:
            rule.violations.append(f"{payment['id']}: still {payment['status']}")
            continue
        elapsed = payment["ended_at"] - payment["created_at"]
        took.append(elapsed.total_seconds())
        if elapsed > bound:
            rule.violations.append(f"{payment['id']}: {elapsed.total_seconds():.1f} s")
    if took:
        took.sort()
        p95 = took[min(len(took) - 1, int(len(took) * 0.95))]
        notes.append(
            f"creation to final status: median {took[len(took) // 2]:.1f} s, "
            f"p95 {p95:.1f} s, max {took[-1]:.1f} s"
        )
    return rule


def _outcome_matches_card(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant(
        "final status and failureReason match the card (or the won cancel or hold decision)"
    )
    outcomes: Counter[str] = Counter()
    cancelled = {
        cancel.payment_id
        for cancel in evidence.load.follow_ups.cancels
        if cancel.answer == follow_up.CANCELLED
    }
    attempts = {attempt.payment_id: attempt for attempt in evidence.load.holds}
    for created in evidence.load.created:
        payment = evidence.payments.get(created.payment_id)
        if payment is None or payment["status"] not in TERMINAL:
            continue  # reported by the rules above
        rule.checked += 1
        expected = expected_for(created.card)
        if created.payment_id in cancelled:
            expected = Expected("cancelled")
        elif created.hold is not None:
            expected = holds.expected_of_hold(expected, attempts.get(created.payment_id))
        actual = (payment["status"], payment["failure_reason"])
        outcomes[f"{actual[0]}{'/' + actual[1] if actual[1] else ''}"] += 1
        if actual[0] in REFUNDED:  # completed, then refunded (amounts: refund_rules)
            actual = ("completed", actual[1])
        if actual != (expected.status, expected.failure_reason):
            rule.violations.append(
                f"{created.payment_id} card {created.card}: {actual[0]}/{actual[1]}, expected "
                f"{expected.status}/{expected.failure_reason}"
            )
    notes.append("outcomes: " + ", ".join(f"{name} {n}" for name, n in sorted(outcomes.items())))
    # No excuse for them: a gateway activity waits out our database (payments_worker's
    # database_outage), so a restart under a gateway call must not change the outcome.
    in_outage = sum(
        1 for payment in _created(evidence) if _during_outage(payment, evidence.database_outages)
    )
    notes.append(
        f"PostgreSQL outages: {len(evidence.database_outages)}; payments in flight then: "
        f"{in_outage} (each held to its card like the rest)"
    )
    return rule


def _during_outage(payment: dict[str, Any], outages: tuple[tuple[datetime, datetime], ...]) -> bool:
    return any(
        payment["created_at"] <= ended and payment["ended_at"] >= began for began, ended in outages
    )


def _approved(evidence: Evidence, operation: str) -> dict[str, list[dict[str, Any]]]:
    by_payment: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in evidence.ledger:
        if entry["operation"] == operation and entry["outcome"] == "approved":
            by_payment[entry["payment_id"]].append(entry)
    return by_payment


def _gateway_once(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("at most one authorization and one capture per payment (ledger)")
    for operation in ("authorize", "capture"):
        for payment_id, entries in _approved(evidence, operation).items():
            if len(entries) > 1:
                rule.violations.append(f"{payment_id}: {len(entries)} approved {operation}s")
    rule.checked = len(evidence.payments)
    return rule


def _voided_references(evidence: Evidence) -> set[str]:
    return {
        entry["parent_reference"]
        for entry in evidence.ledger
        if entry["operation"] == "void" and entry["outcome"] == "approved"
    }


def _failed_hold_nothing(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("failed payments: every authorization voided, nothing captured")
    authorizations = _approved(evidence, "authorize")
    captures = _approved(evidence, "capture")
    voided = _voided_references(evidence)
    refused_captures = {
        entry["payment_id"]
        for entry in evidence.ledger
        if entry["operation"] == "capture" and entry["outcome"] != "approved"
    }
    voids = 0
    for payment in evidence.payments.values():
        if payment["status"] != "failed":
            continue
        rule.checked += 1
        pid = payment["id"]
        if captures.get(pid):
            rule.violations.append(f"{pid}: failed but captured")
        for authorization in authorizations.get(pid, []):
            voids += 1
            if authorization["reference"] not in voided:
                rule.violations.append(f"{pid}: authorization {authorization['reference']} held")
    captured_then_failed = sum(
        1 for pid in refused_captures if evidence.payments.get(pid, {}).get("status") == "failed"
    )
    notes.append(
        f"failed payments whose capture was refused: {captured_then_failed}; "
        f"authorizations of failed payments voided: {voids}"
    )
    return rule


def _completed_captured(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("completed (and refunded) payments: authorized, captured once, not voided")
    authorizations = _approved(evidence, "authorize")
    captures = _approved(evidence, "capture")
    voided = _voided_references(evidence)
    for payment in evidence.payments.values():
        if payment["status"] not in ("completed", *REFUNDED):
            continue
        rule.checked += 1
        pid = payment["id"]
        held = authorizations.get(pid, [])
        if len(held) != 1 or len(captures.get(pid, [])) != 1:
            rule.violations.append(
                f"{pid}: {len(held)} authorizations, {len(captures.get(pid, []))} captures"
            )
        elif held[0]["reference"] in voided:
            rule.violations.append(f"{pid}: completed but its authorization was voided")
    return rule


def _outbox_published(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("outbox rows published", checked=len(evidence.events))
    for event_id, event in evidence.events.items():
        if not event["published"]:
            rule.violations.append(f"{event_id}: unpublished")
    return rule


def _webhooks_delivered(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("events delivered to the merchant, webhook-id = event id")
    rule.checked = len(evidence.events)
    times: Counter[str] = Counter()
    for entry in evidence.received:
        webhook_id, event_id = entry.get("webhookId"), entry.get("eventId")
        times[str(webhook_id)] += 1
        event = evidence.events.get(str(event_id))
        if webhook_id != event_id:
            rule.violations.append(f"webhook-id {webhook_id} carried event {event_id}")
        elif event is None:
            rule.violations.append(f"{event_id}: received, but no such event")
        elif entry.get("paymentStatus") != event["payment_status"]:
            rule.violations.append(f"{event_id}: content differs from the event log")
    for event_id, event in evidence.events.items():
        if event_id not in times:
            rule.violations.append(f"{event_id} ({event['event_type']}): never received")
    failed = evidence.deliveries.get("failed", 0)
    if failed:
        rule.violations.append(f"{failed} deliveries ended failed")
    refund_events = Counter(
        event["event_type"]
        for event_id, event in evidence.events.items()
        if str(event["event_type"]).startswith("refund.") and event_id in times
    )
    notes.append(
        "refund events received: "
        + (", ".join(f"{name} {n}" for name, n in sorted(refund_events.items())) or "none")
    )
    repeated = sum(1 for count in times.values() if count > 1)
    notes.append(
        f"webhooks accepted: {len(evidence.received)} for {len(times)} events "
        f"({repeated} received more than once: at least once, same webhook-id)"
    )
    return rule


def _dead_letters_explained(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("dead-letter queues empty or every message explained")
    received = {str(entry.get("eventId")) for entry in evidence.received}
    for dead in evidence.dead_letters:
        rule.checked += 1
        event_id = str(dead.event.get("id"))
        data = dead.event.get("data") if isinstance(dead.event.get("data"), dict) else {}
        payment = data.get("payment") if isinstance(data, dict) else None
        payment_id = str(payment.get("id")) if isinstance(payment, dict) else ""
        status = evidence.payments.get(payment_id, {}).get("status")
        refund = data.get("refund") if isinstance(data, dict) else None
        refund_id = str(refund.get("id")) if isinstance(refund, dict) else ""
        refund_status = evidence.refunds.get(refund_id, {}).get("status")
        what = f"{dead.queue}-dlq {dead.message_id} {dead.event.get('type')} {event_id}"
        if dead.queue == "payment-processing-queue" and refund_id:
            if refund_status in ("succeeded", "failed"):
                notes.append(f"explained: {what}: refund {refund_id} {refund_status} (sweeper)")
            else:
                rule.violations.append(f"{what}: refund {refund_id} still {refund_status}")
        elif dead.queue == "payment-processing-queue" and status in TERMINAL:
            notes.append(f"explained: {what}: payment {payment_id} {status} (sweeper)")
        elif dead.queue == "payment-webhook-queue" and event_id in received:
            notes.append(f"explained: {what}: delivered anyway")
        else:
            rule.violations.append(f"{what}: unexplained")
    return rule


def _no_crashes(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("no process died on its own (only the injected faults)")
    rule.violations += evidence.crashes
    return rule


def _created(evidence: Evidence) -> list[dict[str, Any]]:
    return [
        evidence.payments[payment.payment_id]
        for payment in evidence.load.created
        if payment.payment_id in evidence.payments
    ]
