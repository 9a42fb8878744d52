"""The books agree with the gateway's after a chaos run (issue 13): nothing is left half-way,
money captured at the gateway is a completed (or refunded) payment here and nothing else is, and
what the gateway refunded is exactly what we recorded as refunded, refund by refund."""

from collections import Counter
from typing import Any

from payments_core.gateway.test_cards import TEST_CARDS, CardBehaviour
from payments_devstack.chaos.evidence import Evidence, Invariant, approved
from payments_devstack.chaos.observe import TERMINAL
from payments_devstack.chaos.refund_rules import REFUND_KEY_SUFFIX

COMPLETED_HERE = ("completed", "partially_refunded", "refunded")
REFUND_FINAL = ("succeeded", "failed")


def nothing_left_non_terminal(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("no payment or refund left non-terminal")
    for payment_id, payment in evidence.payments.items():
        rule.checked += 1
        if payment["status"] not in TERMINAL:
            rule.violations.append(f"payment {payment_id}: {payment['status']}")
    for refund_id, refund in evidence.refunds.items():
        rule.checked += 1
        if refund["status"] not in REFUND_FINAL:
            rule.violations.append(f"refund {refund_id}: {refund['status']}")
    return rule


def captured_iff_completed(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("captured at the gateway <=> completed or refunded here")
    captured = {entry["payment_id"] for entry in approved(evidence, "capture")}
    for payment_id, payment in evidence.payments.items():
        rule.checked += 1
        completed = payment["status"] in COMPLETED_HERE
        if payment_id in captured and not completed:
            rule.violations.append(f"{payment_id}: captured at the gateway, {payment['status']}")
        elif completed and payment_id not in captured:
            rule.violations.append(f"{payment_id}: {payment['status']}, never captured")
    for payment_id in captured - evidence.payments.keys():
        rule.violations.append(f"{payment_id}: captured at the gateway, not a payment of ours")
    return rule


def refunded_at_gateway_is_refunded_here(
    evidence: Evidence, notes: list[str], **context: Any
) -> Invariant:
    rule = Invariant("refunded at the gateway = refunded here (each refund, each payment)")
    at_gateway = {
        str(entry["idempotency_key"]).removesuffix(REFUND_KEY_SUFFIX): entry
        for entry in approved(evidence, "refund")
    }
    by_payment: Counter[str] = Counter()
    for entry in at_gateway.values():
        by_payment[entry["payment_id"]] += entry["amount"] or 0
    for refund_id, refund in evidence.refunds.items():
        rule.checked += 1
        refunded = refund_id in at_gateway
        if refunded != (refund["status"] == "succeeded"):
            rule.violations.append(
                f"refund {refund_id} {refund['status']}: "
                + ("refunded" if refunded else "not refunded")
                + " at the gateway"
            )
    for payment_id, payment in evidence.payments.items():
        if payment["amount_refunded"] != by_payment.get(payment_id, 0):
            rule.violations.append(
                f"{payment_id}: amountRefunded {payment['amount_refunded']}, "
                f"gateway refunded {by_payment.get(payment_id, 0)}"
            )
    unknown_outcome = {
        created.payment_id
        for created in evidence.load.created
        if TEST_CARDS.get(created.card) is CardBehaviour.REFUND_TIMEOUT
    }
    settled_late = [
        refund for refund in evidence.refunds.values() if refund["payment_id"] in unknown_outcome
    ]
    notes.append(
        f"gateway refunds: {len(at_gateway)}, {sum(by_payment.values())} in minor units; "
        f"refunds succeeded here: "
        f"{sum(1 for refund in evidence.refunds.values() if refund['status'] == 'succeeded')}, "
        f"of which {len(settled_late)} of unknown outcome (card 4000000000009235: answers "
        "lost, left pending, settled by the reconciler)"
    )
    return rule


RULES = (nothing_left_non_terminal, captured_iff_completed, refunded_at_gateway_is_refunded_here)
