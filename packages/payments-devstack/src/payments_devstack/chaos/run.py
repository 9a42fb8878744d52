"""One chaos run: start the stack, create payments while faults strike, let it settle, check.

The stack is `make up`'s (`up.start_stack`) in a scratch directory on free ports, with each
service logging to `<scratch>/logs/<name>.log`. The merchant runs on a thread of its own (an
asyncio loop); the faults run on the main thread, which must be the one that starts processes.
"""

import asyncio
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from payments_core.gateway.test_cards import TEST_CARDS
from payments_devstack.chaos.faults import FaultInjector
from payments_devstack.chaos.invariants import Findings, check, gather
from payments_devstack.chaos.load import LoadResult, Merchant
from payments_devstack.chaos.observe import Snapshot, dead_letters, snapshot
from payments_devstack.chaos.plan import SERVICE_SETTINGS, ChaosPlan
from payments_devstack.chaos.report import table
from payments_devstack.errors import DevstackError
from payments_devstack.processes import (
    StopRequested,
    StopSignals,
    Supervisor,
    find_free_ports,
)
from payments_devstack.up import Progress, RunningStack, StackOptions, start_stack

PORT_VARIABLES = (
    "API_PORT",
    "MOTO_PORT",
    "TEMPORAL_PORT",
    "TEMPORAL_UI_PORT",
    "POSTGRES_PORT",
    "WEBHOOK_RECEIVER_PORT",
    "WORKER_HEALTH_PORT",
    "PROCESSOR_HEALTH_PORT",
    "WEBHOOKS_HEALTH_PORT",
)
PROGRESS_EVERY_SECONDS = 10.0
SETTLE_POLL_SECONDS = 2.0


def chaos_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The shell's environment over chaos's settings; its own database and free ports always."""
    result = {**SERVICE_SETTINGS, **env}
    result.pop("DATABASE_URL", None)  # PostgreSQL is restarted: it must be the stack's own
    ports = find_free_ports(len(PORT_VARIABLES))
    result.update({name: str(port) for name, port in zip(PORT_VARIABLES, ports, strict=True)})
    return result


class MerchantThread(threading.Thread):
    """Registers the test cards, then creates the plan's payments, reporting as it goes."""

    def __init__(self, stack: RunningStack, plan: ChaosPlan, progress: Progress) -> None:
        super().__init__(name="chaos-merchant", daemon=True)
        assert stack.demo is not None, "the demo merchant is seeded by start_stack"
        api_url = f"http://127.0.0.1:{stack.ports.api.number}/api/v1"
        self._merchant = Merchant(api_url, stack.demo.api_key)
        self._stack = stack
        self._plan = plan
        self._progress = progress
        self.cards_ready = threading.Event()
        self.created = 0
        self.result: LoadResult | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = asyncio.run(self._main())
        except BaseException as error:  # reported by the main thread
            self.error = error
            self.cards_ready.set()

    async def _main(self) -> LoadResult:
        async with self._merchant.client() as client:
            await self._merchant.register_cards(client, list(TEST_CARDS))
        self.cards_ready.set()
        reporter = asyncio.create_task(self._report())
        try:
            return await self._merchant.create_payments(
                self._plan.payments,
                self._plan.per_second,
                random.Random(self._plan.seed),
                on_created=self._count,
            )
        finally:
            reporter.cancel()

    def _count(self, created: int) -> None:
        self.created = created

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_SECONDS)
            self._progress(
                f"sent {self.created}/{self._plan.payments} | " + await _look(self._stack)
            )


async def _look(stack: RunningStack) -> str:
    try:
        return (await snapshot(stack.database_url, _record_file(stack))).line()
    except Exception as error:
        return f"database unavailable ({type(error).__name__})"


def _record_file(stack: RunningStack) -> Path:
    assert stack.receiver.record_file is not None, "chaos starts the receiver with a record"
    return stack.receiver.record_file


def run_chaos(repo: Path, plan: ChaosPlan, env: Mapping[str, str], *, keep: bool = False) -> int:
    scratch = Path(tempfile.mkdtemp(prefix="payments-chaos-"))
    supervisor = Supervisor()
    progress = Progress(supervisor, "chaos")
    StopSignals(on_repeat=supervisor.kill_all).install()
    stack: RunningStack | None = None
    findings: Findings | None = None
    try:
        progress(
            f"{plan.payments} payments at {plan.per_second:g}/s (seed {plan.seed}), "
            f"faults {'repeated' if plan.repeat_faults else 'once each'}; scratch {scratch}"
        )
        options = StackOptions(
            data_dir=scratch / "data",
            service_logs=scratch / "data" / "logs",
            receiver_record=scratch / "webhooks.jsonl",
        )
        stack = start_stack(repo, chaos_environment(env), supervisor, progress, options)
        findings = _drive(stack, supervisor, plan, progress)
        supervisor.writer.block("chaos", ["", *table(findings)])
        return 0 if findings.violations == 0 else 1
    except DevstackError as error:
        progress(f"error: {error}")
        return 2
    except StopRequested as stop:
        progress(f"{stop.signal_name} received; stopping")
        return 130
    finally:
        if stack is not None:
            stack.purger.stop()
        supervisor.stop_all()
        if keep or findings is None or findings.violations:
            progress(f"logs and data kept in {scratch} (services: data/logs/<name>.log)")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _drive(
    stack: RunningStack, supervisor: Supervisor, plan: ChaosPlan, progress: Progress
) -> Findings:
    injector = FaultInjector(stack, supervisor, plan)
    merchant = MerchantThread(stack, plan, progress)
    merchant.start()
    merchant.cards_ready.wait()
    if merchant.error is not None:
        raise DevstackError(f"the merchant could not register its cards: {merchant.error}")
    began = time.monotonic()
    progress("test cards registered; payments and faults start")
    rounds = 0
    while rounds == 0 or (plan.repeat_faults and merchant.is_alive()):
        for fault in injector.faults(rounds):
            _watch(injector, progress, plan.gap_seconds)
            progress(f"fault: {fault.name}")
            took = injector.inject(fault)
            progress(f"fault: {fault.name}: recovered in {took:.1f} s")
        rounds += 1
    while merchant.is_alive():
        _watch(injector, progress, 1.0)
    if merchant.result is None:
        raise DevstackError(f"the merchant failed: {merchant.error!r}")
    load_seconds = time.monotonic() - began
    progress(
        f"all payments, cancels and refunds sent in {load_seconds:.0f} s; "
        f"{rounds} round(s) of faults; settling"
    )
    _settle(stack, injector, plan, progress)
    dead = dead_letters(stack.moto.endpoint_url, stack.service_env["AWS_REGION"])
    evidence = asyncio.run(
        gather(
            stack.database_url,
            merchant.result,
            _record_file(stack),
            dead,
            injector.log.crashes,
            tuple(injector.log.database_outages),
        )
    )
    findings = check(evidence, planned=plan.payments, bound=timedelta(seconds=plan.bound_seconds))
    findings.notes.insert(
        0,
        f"payments, cancels and refunds sent in {load_seconds:.0f} s, "
        f"whole run {progress.elapsed:.0f} s; "
        f"faults injected: {len(injector.log.injected)}",
    )
    for name, took in injector.log.injected:
        findings.notes.append(f"  fault {name}: recovered in {took:.1f} s")
    for payment_id in injector.log.killed_after_capture:
        status = evidence.payments.get(payment_id, {}).get("status")
        findings.notes.append(f"worker killed after the gateway captured {payment_id}: {status}")
    for payment_id in injector.log.restarted_under_decision:
        payment = evidence.payments.get(payment_id, {})
        findings.notes.append(
            f"Temporal restarted while the {payment.get('hold_decision')} of {payment_id} "
            f"waited for its workflow: {payment.get('status')}"
        )
    return findings


def _watch(injector: FaultInjector, progress: Progress, seconds: float) -> None:
    """Wait, starting again any child that dies on its own meanwhile."""
    deadline = time.monotonic() + seconds
    while True:
        crashed = injector.restart_crashed()
        if crashed:
            progress(f"restarted after an unexpected exit: {crashed}")
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.5))


def _settle(
    stack: RunningStack, injector: FaultInjector, plan: ChaosPlan, progress: Progress
) -> None:
    """Wait until every payment is final and every event delivered, or the grace runs out."""
    deadline = time.monotonic() + plan.bound_seconds + plan.delivery_grace_seconds
    last_report = 0.0
    while time.monotonic() < deadline:
        _watch(injector, progress, SETTLE_POLL_SECONDS)
        try:
            look: Snapshot = asyncio.run(snapshot(stack.database_url, _record_file(stack)))
        except Exception as error:
            progress(f"settling: database unavailable ({type(error).__name__})")
            continue
        if _settled(look):
            progress("settled: " + look.line())
            return
        if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
            last_report = time.monotonic()
            progress("settling: " + look.line())
    progress("settling: gave up waiting; checking what there is")


def _settled(look: Snapshot) -> bool:
    return (
        look.unfinished == 0
        and look.refunds_pending == 0
        and look.unpublished == 0
        and look.pending_deliveries == 0
        and look.received >= look.events
    )
