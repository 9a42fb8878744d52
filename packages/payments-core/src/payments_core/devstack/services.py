"""Our own services as `make up` runs them: one entry per process, started when it exists."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from payments_core.devstack.processes import ServiceSpec


@dataclass(frozen=True)
class AppService:
    name: str
    module: str
    # SQS queues it consumes; the others get a short retention and periodic purge locally.
    consumes: tuple[str, ...] = ()
    # Its HTTP port env var, when it serves one: `make up` waits for it before reporting ready.
    port_env: str | None = None

    def exists(self) -> bool:
        """Whether `python -m <module>` can run yet (services land one at a time)."""
        try:
            return importlib.util.find_spec(f"{self.module}.__main__") is not None
        except ModuleNotFoundError:
            return False

    def spec(self, env: Mapping[str, str], cwd: Path) -> ServiceSpec:
        return ServiceSpec(
            name=self.name, argv=[sys.executable, "-m", self.module], env=env, cwd=cwd
        )


# Start order; they stop in reverse, and all of them before the infrastructure they use.
APP_SERVICES: tuple[AppService, ...] = (
    AppService("api", "payments_api", port_env="API_PORT"),
    AppService("worker", "payments_worker"),
    AppService("processor", "payments_processor", consumes=("payment-processing-queue",)),
    AppService("webhooks", "payments_webhook_sender", consumes=("payment-webhook-queue",)),
)
