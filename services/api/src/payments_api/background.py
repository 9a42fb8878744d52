"""Work the API process runs beside requests: the outbox relay and periodic clean-up."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog

from payments_api.state import ApiState
from payments_core.aws.clients import AwsClient, AwsContext, resolve_topic_arn
from payments_core.db.engine import asyncpg_dsn
from payments_core.db.session import transaction
from payments_core.idempotency.service import delete_expired
from payments_core.outbox.relay import OutboxRelay

log = structlog.get_logger()

CLEANUP_INTERVAL_SECONDS = 60.0
RELAY_DRAIN_SECONDS = 10.0


class RelayRunner:
    """Resolves the topic (retrying while the bus is away), then relays until stopped."""

    def __init__(self, state: ApiState, sns: AwsClient, aws: AwsContext) -> None:
        self._state, self._sns, self._aws = state, sns, aws
        self._relay: OutboxRelay | None = None
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                async with self._aws.client("sts") as sts:
                    topic_arn = await resolve_topic_arn(sts, self._state.settings)
                break
            except Exception:
                log.warning("api.topic_unresolved", retry_in_seconds=delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        self._relay = OutboxRelay(
            self._state.session_factory,
            self._sns,
            topic_arn,
            listen_dsn=asyncpg_dsn(self._state.settings.database_url),
            poll_interval=self._state.settings.outbox_poll_seconds,
        )
        log.info("api.outbox_relay_started", topic_arn=topic_arn)
        await self._relay.run()

    async def stop(self) -> None:
        """Let the batch in flight commit, then end; a stuck publish is cut off (it will be
        published again by the next relay, since its rows were never marked)."""
        if self._relay is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._relay.stop(), RELAY_DRAIN_SECONDS)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def run_cleanup(state: ApiState) -> None:
    while True:
        await asyncio.sleep(CLEANUP_INTERVAL_SECONDS)
        try:
            await state.rate_limiter.purge_old_windows()
            async with transaction(state.session_factory) as session:
                await delete_expired(session)
        except Exception:
            log.warning("api.cleanup_failed", exc_info=True)


@asynccontextmanager
async def background_work(state: ApiState) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        cleanup = asyncio.create_task(run_cleanup(state), name="cleanup")
        relay: RelayRunner | None = None
        if state.settings.enable_sns_publishing:
            aws = AwsContext.from_settings(state.settings)
            sns = await stack.enter_async_context(aws.client("sns"))

            async def sns_check() -> None:
                await sns.list_topics()

            state.sns_check = sns_check
            relay = RelayRunner(state, sns, aws)
        try:
            yield
        finally:
            if relay is not None:
                await relay.stop()
            cleanup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await cleanup
