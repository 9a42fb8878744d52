"""Reading the run's state: the database (one short connection per look, since PostgreSQL is
restarted under us), the receiver's record of accepted webhooks, and the dead-letter queues."""

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import boto3

from payments_core.aws.topology import QUEUES
from payments_core.db.engine import asyncpg_dsn

CONNECT_TIMEOUT_SECONDS = 3.0
TERMINAL = ("completed", "failed", "cancelled", "refunded", "partially_refunded")


async def fetch(database_url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url), timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


@dataclass(frozen=True)
class Snapshot:
    statuses: dict[str, int]
    unpublished: int
    pending_deliveries: int
    events: int
    received: int
    refunds_pending: int = 0

    @property
    def unfinished(self) -> int:
        return sum(count for status, count in self.statuses.items() if status not in TERMINAL)

    def line(self) -> str:
        statuses = " ".join(f"{status} {count}" for status, count in sorted(self.statuses.items()))
        return (
            f"payments: {statuses or 'none'} | outbox unpublished {self.unpublished} | "
            f"refunds pending {self.refunds_pending} | "
            f"webhooks pending {self.pending_deliveries}, received {self.received} "
            f"for {self.events} events"
        )


async def snapshot(database_url: str, record_file: Path) -> Snapshot:
    statuses = await fetch(database_url, "SELECT status, count(*) FROM payments GROUP BY status")
    (counts,) = await fetch(
        database_url,
        "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL),"
        " (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'),"
        " (SELECT count(*) FROM outbox),"
        " (SELECT count(*) FROM refunds WHERE status = 'pending')",
    )
    return Snapshot(
        statuses={row[0]: row[1] for row in statuses},
        unpublished=counts[0],
        pending_deliveries=counts[1],
        events=counts[2],
        refunds_pending=counts[3],
        received=len({entry["webhookId"] for entry in received_webhooks(record_file)}),
    )


def received_webhooks(record_file: Path) -> list[dict[str, Any]]:
    """Every webhook the receiver accepted, in order (a line cut short by a kill is skipped)."""
    if not record_file.exists():
        return []
    entries = []
    for line in record_file.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str
    event: dict[str, Any]


def dead_letters(endpoint_url: str, region: str) -> list[DeadLetter]:
    """Every message in every queue's DLQ (each read once, hidden for the rest of the run)."""
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - the emulator takes any credentials
    )
    found = []
    for queue in QUEUES:
        url = sqs.get_queue_url(QueueName=queue.dlq_name)["QueueUrl"]
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600, WaitTimeSeconds=0
        ).get("Messages", []):
            found += [_dead_letter(queue.name, message) for message in messages]
    return found


def _dead_letter(queue: str, message: Any) -> DeadLetter:
    try:
        event = json.loads(message.get("Body", ""))
    except ValueError:
        event = {}
    return DeadLetter(
        queue, str(message.get("MessageId")), event if isinstance(event, dict) else {}
    )


# A capture the gateway made that we have not recorded yet (its answer on the way back); a
# manual payment stays `authorized` until its capture is recorded and it completes.
UNRECORDED_CAPTURE = """
    SELECT l.payment_id FROM sandbox_ledger l JOIN payments p ON p.id::text = l.payment_id
    WHERE l.operation = 'capture' AND l.outcome = 'approved'
      AND p.status IN ('processing', 'authorized')
      AND p.processing_step IS DISTINCT FROM 'captured'
    LIMIT 1
"""
# A capture or cancel of a hold the API committed and is waiting for the workflow to carry out
# (the Workflow Update); an expiry is the workflow's own decision.
HOLD_DECISION_IN_FLIGHT = """
    SELECT id::text FROM payments
    WHERE status = 'authorized' AND hold_decision IN ('capture', 'cancel')
    LIMIT 1
"""
WATCH_POLL_SECONDS = 0.01


async def first_found(database_url: str, sql: str, within_seconds: float) -> str | None:
    """The first value `sql` finds, as soon as it finds one (one connection, polled every
    10 ms); None if nothing turns up in time."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url), timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        async with asyncio.timeout(within_seconds):
            while True:
                found = await connection.fetchval(sql)
                if found is not None:
                    return str(found)
                await asyncio.sleep(WATCH_POLL_SECONDS)
    except TimeoutError:
        return None
    finally:
        await connection.close()
