"""Our own services as `make up` runs them: one entry per process, started when it exists."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from payments_devstack.processes import ServiceSpec


@dataclass(frozen=True)
class AppService:
    name: str
    module: str
    # SQS queues it consumes; the others get a short retention and periodic purge locally.
    consumes: tuple[str, ...] = ()
    # Its HTTP port env var, when it serves one: `make up` waits for it before reporting ready.
    port_env: str | None = None
    # Its health endpoint: the user's override variable and the default port. Each process reads
    # HEALTH_PORT, so `make up` hands every one its own.
    health_port_env: str | None = None
    default_health_port: int = 0

    def health_port(self, env: Mapping[str, str]) -> int | None:
        if self.health_port_env is None:
            return None
        raw = env.get(self.health_port_env) or str(self.default_health_port)
        return int(raw) if raw.isdigit() else self.default_health_port

    def exists(self) -> bool:
        """Whether `python -m <module>` can run yet (services land one at a time)."""
        try:
            return importlib.util.find_spec(f"{self.module}.__main__") is not None
        except ModuleNotFoundError:
            return False

    def spec(self, env: Mapping[str, str], cwd: Path) -> ServiceSpec:
        own_env = dict(env)
        health_port = self.health_port(env)
        if health_port is not None:
            own_env["HEALTH_PORT"] = str(health_port)
        return ServiceSpec(
            name=self.name, argv=[sys.executable, "-m", self.module], env=own_env, cwd=cwd
        )


# Start order; they stop in reverse, and all of them before the infrastructure they use.
APP_SERVICES: tuple[AppService, ...] = (
    AppService("api", "payments_api", port_env="API_PORT"),
    AppService("worker", "payments_worker", health_port_env="WORKER_HEALTH_PORT",
               default_health_port=9101),
    AppService("processor", "payments_processor", consumes=("payment-processing-queue",),
               health_port_env="PROCESSOR_HEALTH_PORT", default_health_port=9102),
    AppService("webhooks", "payments_webhook_sender", consumes=("payment-webhook-queue",),
               health_port_env="WEBHOOKS_HEALTH_PORT", default_health_port=9103),
)  # fmt: skip
