"""AWS Lambda entrypoint: `payments_processor.lambda_function.handler` on the SQS event source.

Configure the event source mapping with FunctionResponseTypes=["ReportBatchItemFailures"]: the
handler returns the failed message ids and Lambda retries only those. Settings, logging, the
event loop and the Temporal client are set up once per container (on the first invocation) and
reused by the following ones; the loop is kept because the client is bound to it.
"""

import asyncio
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments_core.aws.secret_settings import resolve_secret_settings
from payments_core.consumer.lambda_entry import BatchResponse, handle_event
from payments_core.settings import ProcessorSettings, load_settings
from payments_core.telemetry.logging import configure_logging
from payments_core.telemetry.tracing import PROCESSOR_SERVICE, Tracing, configure_tracing
from payments_core.temporal.client import connect
from payments_processor.handler import ProcessingHandler


@dataclass(frozen=True)
class Container:
    settings: ProcessorSettings
    runner: asyncio.Runner
    handler: ProcessingHandler
    tracing: Tracing


@functools.cache
def container() -> Container:
    resolve_secret_settings()
    settings = load_settings(ProcessorSettings)
    configure_logging(settings.log_level, settings.log_format)
    # Before the client: it carries the tracing interceptor only when tracing is on.
    tracing = configure_tracing(PROCESSOR_SERVICE)
    runner = asyncio.Runner()
    client = runner.run(connect(settings.temporal_address, settings.temporal_namespace))
    handler = ProcessingHandler(client, settings.temporal_task_queue)
    return Container(settings, runner, handler, tracing)


def handler(event: Mapping[str, Any], context: object) -> BatchResponse:
    state = container()
    try:
        return handle_event(
            event,
            state.handler,
            concurrency=state.settings.processor_concurrency,
            runner=state.runner,
        )
    finally:
        # Lambda may freeze the container once we return: export this invocation's spans now.
        state.tracing.flush()


def reset() -> None:
    """Forget the container state (tests; a Lambda container never needs it)."""
    if container.cache_info().currsize:
        container().runner.close()
    container.cache_clear()
