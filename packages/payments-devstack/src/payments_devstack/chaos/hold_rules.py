"""Manual payments after a chaos run (issue 14): every hold the gateway gave is captured, voided,
or expired and voided, never left, and the payment ended as that says; what the merchant was told
(a capture's or cancel's 200, a 409) is how the hold ended, and a capture racing a cancel has at
most one winner; no hold outlives its expiry by more than a margin, and none is released before.

Read from the sandbox ledger (each approved authorization's approved capture and void children),
the payments table and the merchant's answers (holds.py).
"""

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from payments_devstack.chaos.evidence import Evidence, Invariant, approved
from payments_devstack.chaos.holds import (
    AUTHORIZATION_EXPIRED,
    CAPTURE_FAILED,
    HOLD_ACTIONS,
    HoldAction,
    HoldAttempt,
    HoldRequest,
    HoldRequestKind,
)
from payments_devstack.chaos.plan import HOLD_RELEASE_MARGIN_SECONDS

MANUAL = "manual"
CAPTURED_HERE = ("completed", "partially_refunded", "refunded")
CAPTURE, CANCEL = HoldRequestKind.CAPTURE, HoldRequestKind.CANCEL
# How a voided hold may end: the decision that won (payments.hold_decision), then the status
# and failureReason. A capture the gateway refused (card 4000000000000259) is voided, then fails.
VOIDED_ENDINGS = frozenset(
    {
        ("cancel", "cancelled", None),
        ("expire", "failed", AUTHORIZATION_EXPIRED),
        ("capture", "failed", CAPTURE_FAILED),
    }
)


def holds_captured_or_voided(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("a hold is captured, voided or expired-and-voided, never left (ledger)")
    manual = _manual_payments(evidence)
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for operation in ("capture", "void"):
        for entry in approved(evidence, operation):
            children[entry["parent_reference"]].append(entry)
    for authorization in approved(evidence, "authorize"):
        payment = manual.get(authorization["payment_id"])
        if payment is None:
            continue
        rule.checked += 1
        settled = children.get(authorization["reference"], [])
        if len(settled) != 1:
            what = " and ".join(sorted(entry["operation"] for entry in settled))
            rule.violations.append(
                f"{payment['id']}: authorization {authorization['reference']} "
                f"{what or 'neither captured nor voided'}, payment {_ended(payment)}"
            )
        elif problem := _disagreement(payment, settled[0]):
            rule.violations.append(f"{payment['id']}: {problem}")
    return rule


def _disagreement(payment: dict[str, Any], settled: dict[str, Any]) -> str | None:
    """How the payment disagrees with its hold's one capture or void, if it does."""
    decision = payment.get("hold_decision")
    if settled["operation"] == "void":
        ending = (decision, payment["status"], payment["failure_reason"])
        return None if ending in VOIDED_ENDINGS else f"hold voided, {_decided(payment)}"
    captured = settled["amount"]
    if decision != "capture" or payment["status"] not in CAPTURED_HERE:
        return f"hold captured ({captured}), {_decided(payment)}"
    books = (payment.get("amount_to_capture"), payment.get("amount_captured"))
    if books != (captured, captured) or captured > payment["amount"]:
        return (
            f"gateway captured {captured} of {payment['amount']}; decided "
            f"{books[0]}, amountCaptured {books[1]}"
        )
    return None


def hold_answers_agree(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    rule = Invariant("capture and cancel answers agree with how the hold ended; one winner")
    for attempt in evidence.load.holds:
        payment = evidence.payments.get(attempt.payment_id)
        if payment is None:
            continue  # reported by "payments accepted once each"
        rule.checked += 1
        rule.violations += [
            f"{attempt.payment_id} ({attempt.plan.action}): {problem}"
            for problem in _answer_problems(attempt, payment)
        ]
    notes += _outcome_notes(evidence)
    return rule


def _answer_problems(attempt: HoldAttempt, payment: dict[str, Any]) -> list[str]:
    if payment.get("capture_method") != MANUAL:
        return [f"created manual, captureMethod {payment.get('capture_method')}"]
    ending = (payment["status"], payment["failure_reason"])
    if attempt.never_authorized is not None:
        if ending == ("failed", AUTHORIZATION_EXPIRED):
            return []  # authorized late, expired before the merchant saw it authorized
        return [f"never authorized (last seen {attempt.never_authorized}), {_ended(payment)}"]
    problems = []
    for request in attempt.requests:
        if request.unexpected is not None:
            problems.append(f"{request.kind}: {request.unexpected}")
        elif request.won:
            problems += _won_problems(request, payment)
        elif _got(request.kind, payment):
            problems.append(f"{request.kind} refused ({request.code}), yet {_ended(payment)}")
    winners = [request.kind.value for request in attempt.requests if request.won]
    if len(winners) > 1:
        problems.append(f"{' and '.join(winners)} both answered 200")
    must_have_won = _winner_needed(payment)
    answered = all(request.unexpected is None for request in attempt.requests)
    if answered and must_have_won is not None and must_have_won not in winners:
        problems.append(f"{_ended(payment)}, but no {must_have_won} of the merchant's won")
    return problems


def _won_problems(request: HoldRequest, payment: dict[str, Any]) -> list[str]:
    """A 200 is the outcome: a capture completed with what was asked (or the gateway refused the
    capture: failed/capture_failed, voided), a cancel cancelled."""
    told, ending = request.payment_status, (payment["status"], payment["failure_reason"])
    if request.kind is CANCEL:
        return (
            []
            if told == ending[0] == "cancelled"
            else [f"cancel answered 200 ({told}), {_ended(payment)}"]
        )
    asked = payment["amount"] if request.amount is None else request.amount
    captured = (request.amount_captured, payment.get("amount_captured"))
    if told == "completed" and ending[0] in CAPTURED_HERE and captured == (asked, asked):
        return []
    if told == "failed" and ending == ("failed", CAPTURE_FAILED):
        return []
    return [
        f"capture of {asked} answered 200 ({told}, amountCaptured {captured[0]}), "
        f"{_ended(payment)} with {captured[1]} captured"
    ]


def _got(kind: HoldRequestKind, payment: dict[str, Any]) -> bool:
    """Whether the payment ended as a request of this kind asked."""
    return _winner_needed(payment) == kind.value


def _winner_needed(payment: dict[str, Any]) -> str | None:
    """Which of the merchant's requests must have won for the payment to end so."""
    ending = (payment["status"], payment["failure_reason"])
    if ending[0] in CAPTURED_HERE or ending == ("failed", CAPTURE_FAILED):
        return CAPTURE.value
    if ending[0] == "cancelled":
        return CANCEL.value
    return None


def holds_released_in_time(evidence: Evidence, notes: list[str], **context: Any) -> Invariant:
    margin = timedelta(seconds=HOLD_RELEASE_MARGIN_SECONDS)
    rule = Invariant(
        f"no hold authorized past its expiry + {margin.total_seconds():.0f} s, none released early"
    )
    after_expiry = []
    for payment_id, payment in _manual_payments(evidence).items():
        rule.checked += 1
        expires = payment.get("authorization_expires_at")
        if expires is None:
            rule.violations.append(f"{payment_id}: manual, without authorizationExpiresAt")
        elif payment["status"] == "authorized":
            if evidence.observed_at is not None and evidence.observed_at - expires > margin:
                overdue = (evidence.observed_at - expires).total_seconds()
                rule.violations.append(f"{payment_id}: authorized {overdue:.1f} s past its expiry")
        elif (payment["status"], payment["failure_reason"]) == ("failed", AUTHORIZATION_EXPIRED):
            late = (payment["ended_at"] - expires).total_seconds()
            after_expiry.append(late)
            if late < 0:
                rule.violations.append(f"{payment_id}: expired {-late:.1f} s before its expiry")
            elif late > margin.total_seconds():
                rule.violations.append(f"{payment_id}: released {late:.1f} s after its expiry")
    if after_expiry:
        after_expiry.sort()
        notes.append(
            f"expired holds: {len(after_expiry)}, released after their expiry: median "
            f"{after_expiry[len(after_expiry) // 2]:.1f} s, max {after_expiry[-1]:.1f} s"
        )
    return rule


def _outcome_notes(evidence: Evidence) -> list[str]:
    outcomes = Counter(_outcome(payment) for payment in _manual_payments(evidence).values())
    plans = Counter(attempt.plan.action for attempt in evidence.load.holds)
    races: Counter[str] = Counter()
    for attempt in evidence.load.holds:
        if attempt.plan.action is HoldAction.RACE:
            winners = [request.kind.value for request in attempt.requests if request.won]
            races[" and ".join(winners) or "the expiry"] += 1
    requests = [request for attempt in evidence.load.holds for request in attempt.requests]
    answers = Counter(str(request.status or "none") for request in requests)
    pending = [request.pending_answers for request in requests if request.pending_answers]
    return [
        f"manual payments: {sum(outcomes.values())} ({_counts(outcomes)})",
        f"  plans: {_counts(plans)}; races won by: {_counts(races) or 'none raced'}",
        f"  captures and cancels: {len(requests)} (HTTP {_counts(answers) or 'none'}); "
        f"503 hold_decision_pending retried: {sum(pending)} times, on {len(pending)} requests",
    ]


OUTCOMES = (
    "captured in full",
    "captured in part",
    "cancelled",
    "expired",
    "capture refused, voided",
)
ORDER = {name: rank for rank, name in enumerate((*OUTCOMES, *HOLD_ACTIONS))}


def _outcome(payment: dict[str, Any]) -> str:
    status, reason = payment["status"], payment["failure_reason"]
    if status in CAPTURED_HERE:
        whole = payment.get("amount_captured") == payment["amount"]
        return OUTCOMES[0] if whole else OUTCOMES[1]
    if status == "cancelled":
        return OUTCOMES[2]
    if (status, reason) == ("failed", AUTHORIZATION_EXPIRED):
        return OUTCOMES[3]
    if (status, reason) == ("failed", CAPTURE_FAILED):
        return OUTCOMES[4]
    return f"{status}/{reason}" if reason else status


def _counts(counter: Counter[Any]) -> str:
    """In the order of ORDER where listed, the rest after them alphabetically."""
    ranked = sorted(counter.items(), key=lambda item: (ORDER.get(str(item[0]), len(ORDER)), item))
    return ", ".join(f"{name} {n}" for name, n in ranked)


def _manual_payments(evidence: Evidence) -> dict[str, dict[str, Any]]:
    return {
        payment_id: payment
        for payment_id, payment in evidence.payments.items()
        if payment.get("capture_method") == MANUAL
    }


def _ended(payment: dict[str, Any]) -> str:
    reason = payment["failure_reason"]
    return f"{payment['status']}/{reason}" if reason else str(payment["status"])


def _decided(payment: dict[str, Any]) -> str:
    return f"decision {payment.get('hold_decision')}, payment {_ended(payment)}"


RULES = (holds_captured_or_voided, hold_answers_agree, holds_released_in_time)
