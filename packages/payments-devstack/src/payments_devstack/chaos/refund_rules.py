"""The merchant's refunds and cancels, checked against the tables and the sandbox ledger.

Money first: a payment never refunds more than was captured (in our tables and at the
gateway), each succeeded refund moved money exactly once, a failed one not at all. Then the
contract's answers: what the API accepted or refused, and a cancel's 200 or 409 matching how the
payment ended.
"""

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from payments_devstack.chaos.evidence import Evidence, Invariant, approved
from payments_devstack.chaos.follow_up import CANCELLED, REFUSED, Action
from payments_devstack.chaos.holds import HoldRequestKind

REFUND_KEY_SUFFIX = "-refund"
# What may answer the loser of two concurrent refunds that together exceed the amount: the
# remaining amount is too small, or the winner already refunded everything.
OVER_REFUND_REFUSALS = frozenset({"amount_too_large", "payment_not_refundable"})


def refund_requests_answered(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("refund requests accepted or refused as the contract says")
    follow_ups = evidence.load.follow_ups
    by_payment: dict[str, list[Any]] = defaultdict(list)
    for attempt in follow_ups.refunds:
        rule.checked += 1
        by_payment[attempt.payment_id].append(attempt)
        if attempt.unexpected is not None:
            rule.violations.append(f"{attempt.payment_id} refund: {attempt.unexpected}")
    for payment_id, attempts in by_payment.items():
        action = attempts[0].action
        accepted = [attempt for attempt in attempts if attempt.refund_id is not None]
        refused = [attempt for attempt in attempts if attempt.refused is not None]
        if action is Action.REFUND_CONCURRENT_OVER:
            if len(accepted) != 1 or len(refused) != 1:
                rule.violations.append(
                    f"{payment_id}: two refunds over the amount, {len(accepted)} accepted"
                )
            elif refused[0].refused not in OVER_REFUND_REFUSALS:
                rule.violations.append(f"{payment_id}: over-refund refused as {refused[0].refused}")
        else:
            for attempt in refused:
                rule.violations.append(f"{payment_id} {action}: refused ({attempt.refused})")
    actions = Counter(attempts[0].action for attempts in by_payment.values())
    accepted_total = sum(1 for attempt in follow_ups.refunds if attempt.refund_id)
    notes.append(
        f"refund requests: {len(follow_ups.refunds)} on {len(by_payment)} payments ("
        + ", ".join(f"{action} {n}" for action, n in sorted(actions.items()))
        + f"); accepted {accepted_total}, refused "
        f"{sum(1 for attempt in follow_ups.refunds if attempt.refused)}"
    )
    if follow_ups.not_refunded:
        notes.append(
            f"payments meant for refunds that did not complete: {len(follow_ups.not_refunded)}"
        )
    return rule


def refunded_within_captured(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("refunded total within the captured amount (tables and ledger)")
    succeeded: Counter[str] = Counter()
    committed: Counter[str] = Counter()
    for refund in evidence.refunds.values():
        if refund["status"] != "failed":
            committed[refund["payment_id"]] += refund["amount"]
        if refund["status"] == "succeeded":
            succeeded[refund["payment_id"]] += refund["amount"]
    captured: Counter[str] = Counter()
    for entry in approved(evidence, "capture"):
        captured[entry["payment_id"]] += entry["amount"] or 0
    refunded_at_gateway: Counter[str] = Counter()
    for entry in approved(evidence, "refund"):
        refunded_at_gateway[entry["payment_id"]] += entry["amount"] or 0
    for pid in set(committed) | set(refunded_at_gateway):
        rule.checked += 1
        payment = evidence.payments.get(pid, {})
        amount, refunded = payment.get("amount", 0), payment.get("amount_refunded", 0)
        if committed[pid] > amount:
            rule.violations.append(f"{pid}: refunds of {committed[pid]} on {amount}")
        if refunded_at_gateway[pid] > captured[pid]:
            rule.violations.append(
                f"{pid}: gateway refunded {refunded_at_gateway[pid]} of {captured[pid]} captured"
            )
        if not refunded == succeeded[pid] == refunded_at_gateway[pid]:
            rule.violations.append(
                f"{pid}: amountRefunded {refunded}, succeeded refunds {succeeded[pid]}, "
                f"gateway refunds {refunded_at_gateway[pid]}"
            )
        expected_status = "refunded" if refunded >= amount else "partially_refunded"
        if refunded and payment.get("status") != expected_status:
            rule.violations.append(f"{pid}: {payment.get('status')} with {refunded} of {amount}")
    notes.append(
        f"refunded: {sum(succeeded.values())} of {sum(captured[pid] for pid in committed)} "
        f"captured on the payments refunded"
    )
    return rule


def refunded_once_at_gateway(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("each succeeded refund once in the ledger, a failed one never")
    by_refund: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in approved(evidence, "refund"):
        key = str(entry["idempotency_key"])
        by_refund[key.removesuffix(REFUND_KEY_SUFFIX)].append(entry)
    for refund_id, refund in evidence.refunds.items():
        rule.checked += 1
        entries = by_refund.pop(refund_id, [])
        expected = 1 if refund["status"] == "succeeded" else 0
        if len(entries) != expected:
            rule.violations.append(
                f"refund {refund_id} {refund['status']}: {len(entries)} approved gateway refunds"
            )
        elif entries and entries[0]["amount"] != refund["amount"]:
            rule.violations.append(
                f"refund {refund_id}: {refund['amount']} asked, {entries[0]['amount']} refunded"
            )
    for key in by_refund:
        rule.violations.append(f"gateway refund {key}: no refund of ours")
    return rule


def refunds_final(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    bound: timedelta = context["bound"]
    rule = Invariant(f"refunds succeeded within {bound.total_seconds():.0f} s")
    took = []
    for refund_id, refund in evidence.refunds.items():
        rule.checked += 1
        if refund["status"] != "succeeded":
            # The sandbox refuses only what the API already refuses (more than remains).
            reason = refund["failure_reason"] or ""
            rule.violations.append(f"refund {refund_id}: {refund['status']} {reason}".rstrip())
            continue
        elapsed = (refund["updated_at"] - refund["created_at"]).total_seconds()
        took.append(elapsed)
        if elapsed > bound.total_seconds():
            rule.violations.append(f"refund {refund_id}: {elapsed:.1f} s")
    in_outage = sum(
        1
        for refund in evidence.refunds.values()
        if any(
            refund["created_at"] <= ended and refund["updated_at"] >= began
            for began, ended in evidence.database_outages
        )
    )
    if took:
        took.sort()
        notes.append(
            f"refunds: {len(evidence.refunds)}, creation to succeeded: median "
            f"{took[len(took) // 2]:.1f} s, max {took[-1]:.1f} s; in flight during a "
            f"PostgreSQL outage: {in_outage}"
        )
    return rule


def cancels_honoured(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("cancels: 200 only before the charge (never charged), else 409")
    touched = {entry["payment_id"] for entry in evidence.ledger if entry["payment_id"]}
    tombstones = {
        str(entry["idempotency_key"]).removesuffix("-authorize")
        for entry in evidence.ledger
        if entry["payment_id"] is None
    }
    won: set[str] = set()
    counts: Counter[str] = Counter()
    for cancel in evidence.load.follow_ups.cancels:
        rule.checked += 1
        status = evidence.payments.get(cancel.payment_id, {}).get("status")
        when = "racing" if cancel.racing else "at once"
        counts[f"{when} {cancel.answer}"] += 1
        if cancel.answer == CANCELLED:
            won.add(cancel.payment_id)
            if status != "cancelled":
                rule.violations.append(f"{cancel.payment_id}: cancel answered 200, {status}")
            if cancel.payment_id in touched | tombstones:
                rule.violations.append(f"{cancel.payment_id}: cancelled, yet sent to the gateway")
        elif cancel.answer == REFUSED:
            if status == "cancelled":
                rule.violations.append(f"{cancel.payment_id}: cancel refused, yet cancelled")
        else:
            rule.violations.append(f"{cancel.payment_id}: cancel {cancel.answer}")
    # A manual payment's hold cancelled by the merchant (hold_rules checks those answers).
    won |= {
        attempt.payment_id
        for attempt in evidence.load.holds
        for request in attempt.requests
        if request.kind is HoldRequestKind.CANCEL and request.won
    }
    for pid, payment in evidence.payments.items():
        if payment["status"] == "cancelled" and pid not in won:
            rule.violations.append(f"{pid}: cancelled, but no cancel of the merchant's won")
    notes.append(
        f"cancels: {len(evidence.load.follow_ups.cancels)} ("
        + ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        + ")"
    )
    return rule


RULES = (
    refund_requests_answered,
    refunded_within_captured,
    refunded_once_at_gateway,
    refunds_final,
    cancels_honoured,
)
