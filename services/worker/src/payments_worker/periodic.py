"""The worker's background loops (the sweeper, the reconciler): one round every interval, for
ever; a failed round is logged and the next one tries again, so a database blink stops nothing."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

log = structlog.get_logger()


async def run_every(
    interval: timedelta, one_round: Callable[[], Awaitable[object]], *, failed_event: str
) -> None:
    while True:
        try:
            await one_round()
        except Exception:
            log.exception(failed_event)
        await asyncio.sleep(interval.total_seconds())
