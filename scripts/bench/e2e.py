"""The end-to-end figure: payments through the embedded stack, beside the two ceilings.

`python -m payments_devstack up` runs as `make up` does (its own PostgreSQL, the AWS
emulator, the Temporal dev server, the webhook receiver and our four service processes) on free
ports in a scratch folder. Once it is up: resident memory at idle, ceiling (a), ceiling (b), then
N payments created through the API (32 at a time, as fast as it answers). A payment's
completion time is its `completed_at` in PostgreSQL; its webhook time is when the receiver
printed its verified `payment.completed` line. Memory is sampled every half second meanwhile.
"""

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import asyncpg
import httpx

from payments_devstack.processes import find_free_ports
from scripts.bench import ceilings, cpu, emulator_ceiling
from scripts.bench.api import RATE_LIMIT
from scripts.bench.common import descendants, percentile, progress, ratio, rss_mib

TARGET_RATIO = 0.8
# CPU per payment, all our processes, against the Temporal ceiling's server + no-op worker.
TARGET_CPU_RATIO = 1.3
# Payments made one at a time, before the burst: create→completed with nothing else running.
IDLE_PAYMENTS = 10
READY_LINE = "The payment platform is running"
SERVICES = {
    "api": "-m payments_api",
    "worker": "-m payments_worker",
    "processor": "-m payments_processor",
    "webhooks": "-m payments_webhook_sender",
}
PORT_VARIABLES = (
    "API_PORT", "MOTO_PORT", "TEMPORAL_PORT", "TEMPORAL_UI_PORT", "WEBHOOK_RECEIVER_PORT",
    "POSTGRES_PORT", "WORKER_HEALTH_PORT", "PROCESSOR_HEALTH_PORT", "WEBHOOKS_HEALTH_PORT",
)  # fmt: skip
_COMPLETED_WEBHOOK = re.compile(r"webhook payment\.completed \S+ payment ([0-9a-f-]{36}) ")
CREATE_CONCURRENCY = 32
WEBHOOK_STALL_SECONDS = 120.0


@dataclass
class Stack:
    directory: Path
    ports: dict[str, int]
    process: subprocess.Popen[str]
    ready: threading.Event = field(default_factory=threading.Event)
    webhooks: dict[str, float] = field(default_factory=dict)
    tail: list[str] = field(default_factory=list)
    # With BENCH_KEEP, every line of make up's output, stamped with when the bench read it.
    output: TextIO | None = None

    def pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if self.output is not None:
                self.output.write(f"{time.time():.3f} {line}")
            found = _COMPLETED_WEBHOOK.search(line)
            if found:
                self.webhooks.setdefault(found.group(1), time.time())
            self.tail = [*self.tail[-40:], line.rstrip()]
            if READY_LINE in line:
                self.ready.set()

    def service_pids(self) -> dict[str, int]:
        running = descendants(self.process.pid)
        pids: dict[str, int] = {}
        for name, marker in SERVICES.items():
            matches = sorted(pid for pid, command in running.items() if marker in command)
            if matches:
                pids[name] = matches[0]  # the service itself, not anything it started
        return pids

    @property
    def demo(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.directory / ".data" / "demo.json").read_text())
        return loaded


def measure(payments: int) -> dict[str, Any]:
    # BENCH_KEEP=1 keeps the scratch folder (the stack's logs and data) for a look afterwards.
    scratch = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    try:
        stack = _start(scratch)
        try:
            return _measure(stack, payments)
        finally:
            _stop(stack)
    finally:
        if os.environ.get("BENCH_KEEP"):
            progress(f"e2e: scratch folder kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _start(directory: Path) -> Stack:
    ports = dict(zip(PORT_VARIABLES, find_free_ports(len(PORT_VARIABLES)), strict=True))
    env = {**os.environ, **{name: str(port) for name, port in ports.items()}, "NO_COLOR": "1"}
    # One merchant sends every payment: make up's default of 100 a minute would answer 429.
    env["RATE_LIMIT_PER_MINUTE"] = RATE_LIMIT
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "payments_devstack", "up"],
        cwd=directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    stack = Stack(directory, ports, process)
    if os.environ.get("BENCH_KEEP"):
        stack.output = (directory / "make-up.log").open("w", buffering=1)
    threading.Thread(target=stack.pump, daemon=True).start()
    progress("e2e: starting the embedded stack (make up's processes, free ports)")
    deadline = time.monotonic() + 180
    while not stack.ready.wait(0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(stack)
            raise SystemExit("the embedded stack did not come up:\n" + "\n".join(stack.tail))
    return stack


def _stop(stack: Stack) -> None:
    if stack.process.poll() is None:
        os.killpg(stack.process.pid, signal.SIGINT)
        try:
            stack.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.process.pid, signal.SIGKILL)
            stack.process.wait()


def _measure(stack: Stack, payments: int) -> dict[str, Any]:
    pids = stack.service_pids()
    time.sleep(3)  # past start-up work (first polls, connections)
    idle = {name: rss_mib(pid) for name, pid in pids.items()}
    progress("e2e: idle memory " + ", ".join(f"{n} {m} MiB" for n, m in idle.items()))
    temporal_address = f"127.0.0.1:{stack.ports['TEMPORAL_PORT']}"
    groups = _cpu_groups(stack, pids)
    progress(f"e2e: ceiling (a), {payments} no-op workflows of five activities")
    before = _cpu_now(stack, pids)
    temporal = ceilings.temporal_ceiling(temporal_address, payments)
    temporal["cpu_ms_per_payment"] = {
        **_per_payment(cpu.spent(before, _cpu_now(stack, pids)), payments),
        "noop_worker": temporal.pop("noop_worker_cpu_ms_per_payment"),
    }
    ceilings.describe("(a) Temporal", temporal)
    progress(f"e2e: ceiling (b), the events of {payments} payments through the AWS emulator")
    before = _cpu_now(stack, pids)
    aws = emulator_ceiling.aws_ceiling(f"http://127.0.0.1:{stack.ports['MOTO_PORT']}", payments)
    aws["cpu_ms_per_payment"] = _per_payment(cpu.spent(before, _cpu_now(stack, pids)), payments)
    ceilings.describe("(b) AWS emulator", aws)
    progress(f"e2e: {IDLE_PAYMENTS} payments one at a time (latency at idle)")
    idle_latency = asyncio.run(_pay_one_at_a_time(stack, IDLE_PAYMENTS))
    progress(
        f"e2e: at idle, create→completed p50 {idle_latency['create_to_completed_p50_ms']} ms,"
        f" create→webhook p50 {idle_latency['create_to_webhook_p50_ms']} ms"
    )
    progress(f"e2e: {payments} payments through the stack")
    peak: dict[str, float] = {}
    sampling = threading.Event()
    sampler = threading.Thread(target=_sample, args=(pids, peak, sampling), daemon=True)
    sampler.start()
    cpu_before = _cpu_now(stack, pids)
    # The AWS emulator runs Python too: its hot spots are as much ours to find.
    emulator = {"moto": groups["moto"][0]} if groups.get("moto") else {}
    profilers = cpu.Profilers(
        _profile_folder(), {**pids, **emulator, "devstack": stack.process.pid}
    )
    try:
        ours = asyncio.run(_pay(stack, payments))
    finally:
        profilers.stop()
        sampling.set()
        sampler.join()
    ours["cpu_ms_per_payment"] = _per_payment(
        cpu.spent(cpu_before, _cpu_now(stack, pids)), payments
    )
    progress("e2e: CPU ms per payment, ours: " + _listed(ours["cpu_ms_per_payment"]))
    binding = "temporal" if temporal["payments_per_s"] <= aws["payments_per_s"] else "aws"
    ceiling = min(temporal["payments_per_s"], aws["payments_per_s"])
    ours_cpu = round(sum(ours["cpu_ms_per_payment"].values()), 1)
    ceiling_cpu = round(
        temporal["cpu_ms_per_payment"].get("temporal", 0.0)
        + temporal["cpu_ms_per_payment"]["noop_worker"],
        1,
    )
    return {
        "payments": payments,
        "ours": ours,
        "idle": idle_latency,
        "cpu_ms_per_payment": {
            "ours": ours_cpu,
            "ceiling": ceiling_cpu,
            "ratio": ratio(ours_cpu, ceiling_cpu),
            "target": TARGET_CPU_RATIO,
        },
        "ceilings": {"temporal": temporal, "aws": aws},
        "binding": binding,
        "baseline_per_s": ceiling,
        "ratio": ratio(ours["completions_per_s"], ceiling),
        "target": TARGET_RATIO,
        "memory_mib": {"idle": idle, "under_load_peak": peak},
    }


def _per_payment(used: dict[str, float], payments: int) -> dict[str, float]:
    """CPU ms per payment of each process that worked (the others left out)."""
    return {name: round(seconds * 1000 / payments, 1) for name, seconds in used.items() if seconds}


def _listed(figures: dict[str, float]) -> str:
    return ", ".join(f"{name} {value}" for name, value in figures.items())


def _cpu_now(stack: Stack, pids: dict[str, int]) -> dict[str, dict[int, float]]:
    """CPU so far of every process of the stack, found afresh (pools start backends under load)."""
    return cpu.snapshot(_cpu_groups(stack, pids))


def _cpu_groups(stack: Stack, pids: dict[str, int]) -> dict[str, list[int]]:
    """Our services, the stack's infrastructure, and make up itself (its output pumps)."""
    groups = {name: [pid] for name, pid in pids.items()}
    groups.update(cpu.infrastructure_pids(descendants(stack.process.pid)))
    groups["devstack"] = [stack.process.pid]
    return groups


def _profile_folder() -> Path | None:
    folder = os.environ.get("BENCH_PROFILE")
    return Path(folder) if folder else None


def _sample(pids: dict[str, int], peak: dict[str, float], stop: threading.Event) -> None:
    # Sample first, then wait: a small run (the smoke mode's five payments) can finish within
    # one interval, and every service still gets its figure.
    while True:
        for name, pid in pids.items():
            rss = rss_mib(pid)
            if rss is not None:
                peak[name] = max(peak.get(name, 0.0), rss)
        if stop.wait(0.5):
            return


async def _pay(stack: Stack, count: int) -> dict[str, Any]:
    started = time.time()
    created = await _create(stack, count)
    completed = await _wait_for_completion(stack, created)
    webhook_at = {pid: stack.webhooks[pid] for pid in created if pid in stack.webhooks}
    to_complete = [completed[pid] - created[pid] for pid in created]
    to_webhook = [webhook_at[pid] - created[pid] for pid in webhook_at]
    after_completion = [webhook_at[pid] - completed[pid] for pid in webhook_at]
    elapsed = max(completed.values()) - started
    return {
        "completions_per_s": round(count / elapsed, 2),
        "seconds": round(elapsed, 3),
        "create_to_completed_p50_ms": _ms(percentile(to_complete, 0.5)),
        "create_to_completed_p99_ms": _ms(percentile(to_complete, 0.99)),
        "create_to_webhook_p50_ms": _ms(percentile(to_webhook, 0.5)),
        "create_to_webhook_p99_ms": _ms(percentile(to_webhook, 0.99)),
        "webhook_after_completion_p50_ms": _ms(percentile(after_completion, 0.5)),
        "webhooks_received": len(webhook_at),
    }


async def _create(stack: Stack, count: int) -> dict[str, float]:
    """Create `count` payments, CREATE_CONCURRENCY at a time: when each was asked for, by id."""
    demo = stack.demo
    api_url = f"http://127.0.0.1:{stack.ports['API_PORT']}/api/v1/payments"
    headers = {"X-API-Key": demo["api_key"]}
    body = {"amount": 10_000, "currency": "NGN", "paymentMethodId": demo["payment_method_id"]}
    created: dict[str, float] = {}
    limit = asyncio.Semaphore(CREATE_CONCURRENCY)
    limits = httpx.Limits(max_connections=CREATE_CONCURRENCY)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def create() -> None:
            async with limit:
                began = time.time()
                key = {"Idempotency-Key": uuid.uuid4().hex}
                response = await client.post(api_url, json=body, headers={**headers, **key})
                response.raise_for_status()
                created[response.json()["data"]["id"]] = began

        await asyncio.gather(*(create() for _ in range(count)))
    return created


async def _pay_one_at_a_time(stack: Stack, count: int) -> dict[str, Any]:
    """create→completed and create→webhook of payments made one after another, each once the
    one before was webhooked: the latency of a payment with nothing else running."""
    to_complete: list[float] = []
    to_webhook: list[float] = []
    for _ in range(count):
        created = await _create(stack, 1)
        completed = await _wait_for_completion(stack, created, quiet=True)
        for pid, began in created.items():
            to_complete.append(completed[pid] - began)
            if pid in stack.webhooks:
                to_webhook.append(stack.webhooks[pid] - began)
    return {
        "payments": count,
        "create_to_completed_p50_ms": _ms(percentile(to_complete, 0.5)),
        "create_to_webhook_p50_ms": _ms(percentile(to_webhook, 0.5)) if to_webhook else None,
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def _wait_for_completion(
    stack: Stack, created: dict[str, float], *, quiet: bool = False
) -> dict[str, float]:
    """`completed_at` (Unix seconds) of every payment, once all completed and were webhooked."""
    database_url = f"postgresql://postgres@127.0.0.1:{stack.ports['POSTGRES_PORT']}/payments"
    connection = await asyncpg.connect(database_url)
    ids = [uuid.UUID(pid) for pid in created]
    deadline = time.monotonic() + 60 + len(ids) * 0.5 + WEBHOOK_STALL_SECONDS
    last_report = 0.0
    last_webhooks, webhook_seen_at = 0, time.monotonic()
    completed_seen_at: float | None = None
    try:
        while True:
            rows = await connection.fetch(
                "SELECT id, extract(epoch FROM completed_at) AS at FROM payments"
                " WHERE id = ANY($1) AND status = 'completed'",
                ids,
            )
            webhooks = sum(1 for pid in created if pid in stack.webhooks)
            if webhooks != last_webhooks:
                last_webhooks, webhook_seen_at = webhooks, time.monotonic()
            all_completed = len(rows) == len(ids)
            if all_completed and completed_seen_at is None:
                completed_seen_at = time.monotonic()
            # A webhook that never comes (one run saw a payment.completed never reach the
            # webhook queue) is reported, not waited for. The stall counts from the last
            # webhook or the last completion, whichever is later: under a 500-payment burst the
            # webhooks trail the completions by minutes, and they are the figure.
            quiet_since = max(webhook_seen_at, completed_seen_at or 0.0)
            webhooks_stalled = time.monotonic() - quiet_since > WEBHOOK_STALL_SECONDS
            out_of_time = time.monotonic() > deadline
            if all_completed and (webhooks == len(ids) or webhooks_stalled or out_of_time):
                return {str(row["id"]): float(row["at"]) for row in rows}
            if not quiet and time.monotonic() - last_report > 2:
                last_report = time.monotonic()
                progress(f"e2e: {len(rows)}/{len(ids)} completed, {webhooks} webhooks received")
            if out_of_time:
                raise SystemExit(f"e2e: only {len(rows)} of {len(ids)} payments completed")
            await asyncio.sleep(0.02 if quiet else 0.1)
    finally:
        await connection.close()
