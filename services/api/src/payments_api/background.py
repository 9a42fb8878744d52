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


async def run_relay(state: ApiState, sns: AwsClient, aws: AwsContext) -> None:
    """Resolve the topic (retrying while the bus is away), then relay until cancelled."""
    delay = 0.5
    while True:
        try:
            async with aws.client("sts") as sts:
                topic_arn = await resolve_topic_arn(sts, state.settings)
            break
        except Exception:
            log.warning("api.topic_unresolved", retry_in_seconds=delay, exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
    relay = OutboxRelay(
        state.session_factory,
        sns,
        topic_arn,
        listen_dsn=asyncpg_dsn(state.settings.database_url),
        poll_interval=state.settings.outbox_poll_seconds,
    )
    log.info("api.outbox_relay_started", topic_arn=topic_arn)
    try:
        await relay.run()
    except asyncio.CancelledError:
        await relay.stop()
        raise


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
        tasks = [asyncio.create_task(run_cleanup(state), name="cleanup")]
        if state.settings.enable_sns_publishing:
            aws = AwsContext.from_settings(state.settings)
            sns = await stack.enter_async_context(aws.client("sns"))

            async def sns_check() -> None:
                await sns.list_topics()

            state.sns_check = sns_check
            tasks.append(asyncio.create_task(run_relay(state, sns, aws), name="outbox-relay"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
