"""The processor as a long-running process: Temporal client, polling loop, health endpoint.

Start-up waits for Temporal (retrying) before it receives anything, so an outage at start costs
no delivery attempts; SIGTERM/SIGINT stop receiving and drain the records in flight, and a second
signal abandons them to SQS at once.
"""

import asyncio
from contextlib import suppress

import structlog
from temporalio.client import Client

from payments_core.aws.clients import AwsContext
from payments_core.consumer.health import HealthServer
from payments_core.consumer.polling import PollingConfig, SqsPoller
from payments_core.consumer.queue_depth import sampling_queue_depth
from payments_core.consumer.queues import polling_sqs_client
from payments_core.consumer.settings import ConsumerSettings
from payments_core.settings import ProcessorSettings
from payments_core.telemetry.temporal import temporal_metrics
from payments_core.temporal.client import connect
from payments_processor.handler import ProcessingHandler

log = structlog.get_logger("payments_processor")

HEALTH_HOST = "0.0.0.0"  # noqa: S104 - probes reach the pod's own address
CONNECT_BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0)


class ProcessorService:
    def __init__(
        self,
        settings: ProcessorSettings,
        consumer_settings: ConsumerSettings | None = None,
        *,
        client: Client | None = None,
        aws: AwsContext | None = None,
        health_host: str = HEALTH_HOST,
    ) -> None:
        self.settings = settings
        self.consumer_settings = consumer_settings or ConsumerSettings()
        self.client = client
        self.aws = aws or AwsContext.from_settings(settings)
        self.health_host = health_host
        self.health: HealthServer | None = None
        self.poller: SqsPoller | None = None
        self._stopping = asyncio.Event()

    @property
    def healthy(self) -> bool:
        """Alive and not shutting down (waiting for Temporal at start counts as alive)."""
        if self._stopping.is_set():
            return False
        return self.poller is None or self.poller.running

    def stop(self) -> None:
        self._stopping.set()
        if self.poller is not None:
            self.poller.stop()

    def polling_config(self) -> PollingConfig:
        return PollingConfig.from_settings(
            self.settings.payment_processing_queue,
            concurrency=self.settings.processor_concurrency,
            settings=self.consumer_settings,
        )

    async def run(self) -> None:
        if self.settings.health_port:
            self.health = HealthServer(
                lambda: self.healthy, host=self.health_host, port=self.settings.health_port
            )
            await self.health.start()
        try:
            client = self.client or await self._connect()
            if client is None:
                return
            self.client = client
            config = self.polling_config()
            handler = ProcessingHandler(client, self.settings.temporal_task_queue)
            async with polling_sqs_client(self.aws, wait_seconds=config.wait_seconds) as sqs:
                self.poller = SqsPoller(sqs, handler, config)
                if self._stopping.is_set():
                    self.poller.stop()
                async with sampling_queue_depth(sqs, config.queue):
                    await self.poller.run()
        finally:
            if self.health is not None:
                await self.health.close()

    async def _connect(self) -> Client | None:
        """The Temporal client, retried until it connects or the process is stopped."""
        attempt = 0
        while not self._stopping.is_set():
            try:
                client = await connect(
                    self.settings.temporal_address,
                    self.settings.temporal_namespace,
                    runtime=temporal_metrics().runtime,
                )
            except Exception as error:
                delay = CONNECT_BACKOFF_SECONDS[min(attempt, len(CONNECT_BACKOFF_SECONDS) - 1)]
                attempt += 1
                log.warning(
                    "processor.temporal_unavailable",
                    address=self.settings.temporal_address,
                    error_type=type(error).__name__,
                    error=str(error),
                    retry_in=delay,
                )
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                continue
            log.info(
                "processor.temporal_connected",
                address=self.settings.temporal_address,
                namespace=self.settings.temporal_namespace,
            )
            return client
        return None
