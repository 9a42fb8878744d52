"""What the checks read, gathered once at the end of the run, and what they report."""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from payments_devstack.chaos.load import LoadResult
from payments_devstack.chaos.observe import DeadLetter, fetch, received_webhooks


@dataclass
class Invariant:
    name: str
    checked: int = 0
    violations: list[str] = field(default_factory=list)


@dataclass
class Findings:
    invariants: list[Invariant]
    # Facts worth printing that break nothing (latencies, duplicates, explained dead letters).
    notes: list[str] = field(default_factory=list)

    @property
    def violations(self) -> int:
        return sum(len(invariant.violations) for invariant in self.invariants)


@dataclass(frozen=True)
class Evidence:
    """Everything the checks read, gathered once at the end of the run."""

    load: LoadResult
    payments: dict[str, dict[str, Any]]
    ledger: list[dict[str, Any]]
    events: dict[str, dict[str, Any]]
    deliveries: dict[str, int]
    received: list[dict[str, Any]]
    dead_letters: list[DeadLetter]
    crashes: list[str]
    database_outages: tuple[tuple[datetime, datetime], ...] = ()
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # When the tables were read (the database's clock, like their timestamps).
    observed_at: datetime | None = None


async def gather(
    database_url: str,
    load: LoadResult,
    record_file: Path,
    dead: list[DeadLetter],
    crashes: list[str],
    database_outages: tuple[tuple[datetime, datetime], ...] = (),
) -> Evidence:
    payments = await fetch(
        database_url,
        "SELECT id::text AS id, status, failure_reason, amount, amount_refunded, created_at,"
        " coalesce(completed_at, updated_at) AS ended_at, capture_method, hold_decision,"
        " amount_to_capture, amount_captured, authorization_expires_at FROM payments",
    )
    (clock,) = await fetch(database_url, "SELECT now() AS now")
    ledger = await fetch(
        database_url,
        "SELECT idempotency_key, operation, outcome, payment_id, reference, parent_reference,"
        " decline_code, amount FROM sandbox_ledger",
    )
    events = await fetch(
        database_url,
        "SELECT id, event_type, published_at IS NOT NULL AS published,"
        " payload->'data'->'payment'->>'id' AS payment_id,"
        " payload->'data'->'payment'->>'status' AS payment_status FROM outbox",
    )
    refunds = await fetch(
        database_url,
        "SELECT id::text AS id, payment_id::text AS payment_id, amount, status, failure_reason,"
        " created_at, updated_at FROM refunds",
    )
    deliveries = await fetch(
        database_url, "SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status"
    )
    return Evidence(
        load=load,
        payments={row["id"]: dict(row) for row in payments},
        ledger=[dict(row) for row in ledger],
        events={row["id"]: dict(row) for row in events},
        deliveries={row["status"]: row["n"] for row in deliveries},
        received=received_webhooks(record_file),
        dead_letters=dead,
        crashes=crashes,
        database_outages=database_outages,
        refunds={row["id"]: dict(row) for row in refunds},
        observed_at=clock["now"],
    )


def approved(evidence: Evidence, operation: str) -> list[dict[str, Any]]:
    """The sandbox ledger's approved rows of one operation (authorize, capture, void, refund)."""
    return [
        entry
        for entry in evidence.ledger
        if entry["operation"] == operation and entry["outcome"] == "approved"
    ]
