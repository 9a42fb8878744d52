"""How big a chaos run is, how fast it goes, and the settings it lowers for the services."""

from dataclasses import dataclass

# Contract (CONTRACT.md §1): with default settings every test card is final within 60 s. Under
# chaos a payment may also sit out one fault and what it costs to recover from: its
# payment.initiated dead-lettered or held by a killed processor, found again by the sweeper
# (SWEEPER_PENDING_AFTER_SECONDS + SWEEPER_INTERVAL_SECONDS = 20 s), or its workflow waiting for
# Temporal or PostgreSQL to come back and for an activity on a killed worker to time out
# (at most ~30 s). 60 + 20 + 30 = 110, rounded up. A manual payment is decided by the merchant
# or its expiry within AUTHORIZATION_TTL_SECONDS (below: 30 s) of its creation, and carried out
# like an automatic one (a decision the workflow missed waits for the reconciler's wake,
# RECONCILE_AFTER_SECONDS + RECONCILE_INTERVAL_SECONDS = 35 s): 30 + 35 + 30 also fits.
TERMINAL_BOUND_SECONDS = 120.0
# How long after its expiry a hold may still be `authorized` or be released: the expiry is a
# durable timer, so only a fault delays it, by at most the ~30 s one outage costs; doubled.
HOLD_RELEASE_MARGIN_SECONDS = 60.0

# What chaos lowers so that recovery fits in a run; anything exported in the shell wins.
SERVICE_SETTINGS: dict[str, str] = {
    # One merchant sends every payment and poll: the per-key limit is not what is tested here.
    "RATE_LIMIT_PER_MINUTE": "1000000",
    # Payments left pending (their event dead-lettered or lost) are driven again soon.
    "SWEEPER_PENDING_AFTER_SECONDS": "15",
    "SWEEPER_INTERVAL_SECONDS": "5",
    # A flapping receiver's deliveries are retried within the run, about 4 minutes in all.
    "WEBHOOK_RETRY_SCHEDULE": "1,2,4,8,15,30,30,30,30,30,30",
    # A record whose handler failed (Temporal away) comes back after 10 s, not SQS's 30 s.
    "SQS_VISIBILITY_TIMEOUT": "10",
    "SQS_WAIT_SECONDS": "5",
    # Half of it is the answer's way back, after the acquirer acted: the window in which the
    # "between a capture and its record" fault kills the worker.
    "SANDBOX_LATENCY_MS": "300",
    # Refunds of the 9235 card never get an answer: their workflow ends after about 50 s with
    # the refund pending, and the reconciler settles it within the bound.
    "RECONCILE_AFTER_SECONDS": "30",
    "RECONCILE_INTERVAL_SECONDS": "5",
    # Manual payments left to expire (holds.py) are released during the run, not in 7 days.
    "AUTHORIZATION_TTL_SECONDS": "30",
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
}


@dataclass(frozen=True)
class ChaosPlan:
    payments: int = 300
    # Payments created per second, steadily, whatever the faults do to the API.
    per_second: float = 2.0
    seed: int = 7
    # Each fault once, in order, then again (full runs) while payments are still being created.
    repeat_faults: bool = True
    # Pause between one fault's recovery and the next fault.
    gap_seconds: float = 6.0
    # How long a killed service stays dead before it is started again.
    dead_seconds: float = 2.0
    # How long the merchant's receiver is down in a flap.
    flap_seconds: float = 20.0
    # How long Temporal stays away under a hold's capture or cancel: longer than its client's own
    # retries (10 s), so the API's Workflow Update fails and it answers 503 hold_decision_pending.
    decision_outage_seconds: float = 12.0
    bound_seconds: float = TERMINAL_BOUND_SECONDS
    # After every payment is final: how long webhooks may take to reach the receiver.
    delivery_grace_seconds: float = 240.0

    @classmethod
    def reduced(cls, payments: int = 50) -> "ChaosPlan":
        """Each fault once, about two minutes on a 2-core machine: what `make test` runs."""
        return cls(
            payments=payments,
            per_second=1.0,
            repeat_faults=False,
            gap_seconds=2.0,
            dead_seconds=1.0,
            flap_seconds=8.0,
        )
