"""How a consumer process stops: the first SIGTERM/SIGINT drains, a second abandons the drain."""

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Protocol

import structlog

from payments_core.settings import ServiceSettings
from payments_core.telemetry.logging import configure_logging
from payments_core.telemetry.tracing import configure_tracing

log = structlog.get_logger("payments_core.consumer")


class StoppableService(Protocol):
    async def run(self) -> None: ...

    def stop(self) -> None: ...


async def run_until_signalled(service: StoppableService, name: str) -> None:
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    signals_seen = 0

    def on_signal(signum: signal.Signals) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            log.info(f"{name}.stopping", signal=signum.name)
            service.stop()
        elif main is not None:
            log.warning(f"{name}.stopping_now", signal=signum.name)
            main.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await service.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def run_consumer_process(
    settings: ServiceSettings,
    build_service: Callable[[], StoppableService],
    name: str,
    tracing_service: str,
) -> None:
    """A consumer process's whole life: logs and tracing set up, the service run until signalled,
    spans flushed on the way out."""
    configure_logging(settings.log_level, settings.log_format)
    tracing = configure_tracing(tracing_service)
    try:
        # A second signal cancels the drain; that cancellation ends the process, not a traceback.
        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(run_until_signalled(build_service(), name))
    finally:
        tracing.shutdown()
