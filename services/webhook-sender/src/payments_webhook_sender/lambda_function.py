"""AWS Lambda entrypoints for the webhook sender.

- `handler`: the SQS event source of payment-webhook-queue (FunctionResponseTypes =
  ["ReportBatchItemFailures"]). It writes each event's deliveries, then sends what is due
  within the invocation's remaining time.
- `scheduled_handler`: an EventBridge schedule (every minute) that sends due retries, which in
  the container are found by the dispatcher's poll.

State (settings, engine, keep-alive connections, event loop) is built once per Lambda container.
"""

import asyncio
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments_core.aws.secret_settings import resolve_secret_settings
from payments_core.consumer.lambda_entry import BatchResponse, process_event
from payments_core.db.bounds import StatementBounds
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.settings import WebhookSenderSettings, load_settings
from payments_core.telemetry.logging import configure_logging
from payments_core.telemetry.tracing import WEBHOOK_SENDER_SERVICE, Tracing, configure_tracing
from payments_core.webhooks.attempt import new_connections
from payments_webhook_sender.dispatcher import DeliveryDispatcher
from payments_webhook_sender.intake import IntakeHandler

# Stop sending this long before Lambda's deadline, so attempts are recorded before it.
DEADLINE_MARGIN_SECONDS = 15.0
DEFAULT_BUDGET_SECONDS = 30.0


@dataclass(frozen=True)
class Container:
    settings: WebhookSenderSettings
    runner: asyncio.Runner
    dispatcher: DeliveryDispatcher
    intake: IntakeHandler
    tracing: Tracing


@functools.cache
def container() -> Container:
    resolve_secret_settings()
    settings = load_settings(WebhookSenderSettings)
    configure_logging(settings.log_level, settings.log_format)
    # Before the engine: it is instrumented only when tracing is on.
    tracing = configure_tracing(WEBHOOK_SENDER_SERVICE)
    runner = asyncio.Runner()
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        bounds=StatementBounds.from_settings(settings),
    )
    sessions = create_session_factory(engine)

    async def build() -> DeliveryDispatcher:
        # Connections bind to the loop they are first used on: make them on the runner's.
        connections = new_connections(settings.webhook_concurrency)
        return DeliveryDispatcher(sessions, settings, connections)

    dispatcher = runner.run(build())
    return Container(settings, runner, dispatcher, IntakeHandler(sessions), tracing)


def _budget(context: object) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return DEFAULT_BUDGET_SECONDS
    return max(0.0, float(remaining()) / 1000 - DEADLINE_MARGIN_SECONDS)


def handler(event: Mapping[str, Any], context: object) -> BatchResponse:
    state = container()

    async def work() -> BatchResponse:
        response = await process_event(
            event, state.intake, concurrency=state.settings.webhook_queue_concurrency
        )
        await state.dispatcher.run_until_idle(_budget(context))
        return response

    try:
        return state.runner.run(work())
    finally:
        # Lambda may freeze the container once we return: export this invocation's spans now.
        state.tracing.flush()


def scheduled_handler(event: Mapping[str, Any], context: object) -> dict[str, str]:
    state = container()
    try:
        state.runner.run(state.dispatcher.run_until_idle(_budget(context)))
    finally:
        state.tracing.flush()
    return {"status": "ok"}


def reset() -> None:
    """Forget the container state (tests; a Lambda container never needs it)."""
    if container.cache_info().currsize:
        container().runner.close()
    container.cache_clear()
