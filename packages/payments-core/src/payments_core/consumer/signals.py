"""How a consumer process stops: the first SIGTERM/SIGINT drains, a second abandons the drain."""

import asyncio
import signal
from typing import Protocol

import structlog

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
