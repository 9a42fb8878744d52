"""The faults, one at a time: services killed with SIGKILL and started again (the worker also
between a capture at the gateway and its record), Temporal restarted on its data (also while the
API waits for a workflow to carry out a hold's capture or cancel), PostgreSQL SIGKILLed and
started again on its data (crash recovery), the merchant's webhook receiver down for a while.

Every start happens on the calling thread, which must be the main thread (see
`processes._die_with_parent`).
"""

import asyncio
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from payments_devstack.chaos.observe import (
    HOLD_DECISION_IN_FLIGHT,
    UNRECORDED_CAPTURE,
    first_found,
)
from payments_devstack.chaos.plan import ChaosPlan
from payments_devstack.errors import DevstackError
from payments_devstack.processes import (
    ManagedProcess,
    Supervisor,
    port_accepts_connections,
    wait_until,
)
from payments_devstack.server import InfrastructureServer
from payments_devstack.services import APP_SERVICES
from payments_devstack.up import RunningStack

SERVICE_READY_TIMEOUT_SECONDS = 60.0
# How long to wait for a capture, or a hold's decision, in flight before striking anyway.
CAPTURE_WATCH_SECONDS = 30.0
DECISION_WATCH_SECONDS = 15.0


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[], None]


@dataclass
class FaultLog:
    injected: list[tuple[str, float]] = field(default_factory=list)
    # Children that died without being asked to, and were started again like a pod would be.
    crashes: list[str] = field(default_factory=list)
    # When PostgreSQL was down (UTC, as the tables' timestamps): a gateway call in flight then
    # fails for a reason the card does not choose.
    database_outages: list[tuple[datetime, datetime]] = field(default_factory=list)
    # Payments captured at the gateway, not yet recorded, when the worker was killed.
    killed_after_capture: list[str] = field(default_factory=list)
    # Manual payments whose capture or cancel the API was waiting on when Temporal went away.
    restarted_under_decision: list[str] = field(default_factory=list)


class FaultInjector:
    def __init__(self, stack: RunningStack, supervisor: Supervisor, plan: ChaosPlan) -> None:
        self._stack = stack
        self._supervisor = supervisor
        self._plan = plan
        self.log = FaultLog()

    def faults(self, round_number: int = 0) -> list[Fault]:
        """One round: each service killed, each dependency restarted, the receiver flapping.

        The first round begins with Temporal away under a hold's decision, and only the first:
        12 s without Temporal on top of a worker kill costs a refund of unknown outcome (about
        85 s to settle, card 4000000000009235) more than the 30 s its bound leaves for one
        outage, which a later round, with many such refunds in flight, would meet."""
        kills = [
            Fault(f"SIGKILL {name}, restart", functools.partial(self.kill_service, name))
            for name in ("api", "processor", "worker", "webhooks")
        ]
        under_decision = Fault(
            f"restart Temporal, away {self._plan.decision_outage_seconds:.0f} s, while a "
            "hold's capture or cancel waits for its workflow",
            self.restart_temporal_under_decision,
        )
        return [
            *([under_decision] if round_number == 0 else []),
            *kills,
            Fault(
                "SIGKILL worker between a capture and its record, restart",
                self.kill_worker_after_capture,
            ),
            Fault("restart Temporal (persistent file)", self.restart_temporal),
            Fault("SIGKILL PostgreSQL, restart (crash recovery)", self.crash_postgres),
            Fault(f"receiver down {self._plan.flap_seconds:.0f} s, then up", self.flap_receiver),
        ]

    def inject(self, fault: Fault) -> float:
        """Run one fault to its recovery; how long that took."""
        began = time.monotonic()
        fault.inject()
        took = time.monotonic() - began
        self.log.injected.append((fault.name, took))
        return took

    def kill_service(self, name: str) -> None:
        process = self._stack.services[name]
        self._supervisor.kill(process)
        time.sleep(self._plan.dead_seconds)
        self._start_again(process)

    def kill_worker_after_capture(self) -> None:
        """SIGKILL the worker once the gateway has captured a payment whose capture the worker
        has not recorded yet (the answer on its way back: SANDBOX_LATENCY_MS), so its activity
        must be repeated elsewhere and learn the capture from the gateway."""
        process = self._stack.services["worker"]
        caught = asyncio.run(
            first_found(self._stack.database_url, UNRECORDED_CAPTURE, CAPTURE_WATCH_SECONDS)
        )
        self._supervisor.kill(process)
        if caught is not None:
            self.log.killed_after_capture.append(caught)
        time.sleep(self._plan.dead_seconds)
        self._start_again(process)

    def restart_temporal(self) -> None:
        self._stack.temporal.restart(self._supervisor)

    def restart_temporal_under_decision(self) -> None:
        """Stop Temporal once the API has committed a capture or cancel of a hold and waits for
        the workflow to carry it out (a Workflow Update): the update fails, the API answers 503
        hold_decision_pending, the merchant retries with the same key until Temporal is back and
        the decision, which stood all along, is carried out."""
        caught = asyncio.run(
            first_found(self._stack.database_url, HOLD_DECISION_IN_FLIGHT, DECISION_WATCH_SECONDS)
        )
        self._stack.temporal.restart(
            self._supervisor, down_seconds=self._plan.decision_outage_seconds
        )
        if caught is not None:
            self.log.restarted_under_decision.append(caught)

    def crash_postgres(self) -> None:
        """The postmaster and all its processes SIGKILLed, then started on the same data."""
        if self._stack.postgres is None:
            raise DevstackError("chaos needs the embedded PostgreSQL (unset DATABASE_URL)")
        # From just before the kill until it accepts queries again (after crash recovery).
        began = datetime.now(UTC)
        try:
            self._stack.postgres.crash_and_restart(
                self._supervisor, down_seconds=self._plan.dead_seconds
            )
        finally:
            self.log.database_outages.append((began, datetime.now(UTC)))

    def flap_receiver(self) -> None:
        self._stack.receiver.restart(self._supervisor, down_seconds=self._plan.flap_seconds)

    def restart_crashed(self) -> str | None:
        """Start again a child that died on its own (as Kubernetes would); which one."""
        process = self._supervisor.unexpected_exit()
        if process is None:
            return None
        description = self._supervisor.describe_exit(process)
        self.log.crashes.append(description)
        servers: dict[str, InfrastructureServer | None] = {
            "postgres": self._stack.postgres,
            "temporal": self._stack.temporal,
            "receiver": self._stack.receiver,
        }
        if process.name in self._stack.services:
            self._start_again(process)
        elif (server := servers.get(process.name)) is not None:
            server.restart(self._supervisor)
        else:
            raise DevstackError(description)  # the emulator: its queues are gone with it
        return description

    def _start_again(self, process: ManagedProcess) -> None:
        again = self._supervisor.start(process.spec, replacing=process)
        self._stack.services[process.name] = again
        port = self._ready_port(process.name)
        wait_until(
            functools.partial(port_accepts_connections, port),
            what=process.name,
            timeout=SERVICE_READY_TIMEOUT_SECONDS,
            process=again,
        )

    def _ready_port(self, name: str) -> int:
        service = next(service for service in APP_SERVICES if service.name == name)
        env = self._stack.service_env
        if service.port_env:
            return int(env[service.port_env])
        port = service.health_port(env)
        assert port, f"{name} has no health port"
        return port
