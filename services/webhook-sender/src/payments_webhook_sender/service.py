"""The webhook sender as a long-running process: intake from SQS, dispatch from the table.

Two loops share one process: the SQS poller turns events into delivery rows (and wakes the
dispatcher), the dispatcher sends whatever is due, new or retried. SIGTERM stops the intake
first (its records drain), then the dispatcher lets attempts in flight finish and be recorded.
"""

import asyncio

import structlog

from payments_core.aws.clients import AwsContext
from payments_core.consumer.health import HealthServer
from payments_core.consumer.polling import PollingConfig, SqsPoller
from payments_core.consumer.queue_depth import sampling_queue_depth
from payments_core.consumer.queues import polling_sqs_client
from payments_core.consumer.settings import ConsumerSettings
from payments_core.db.bounds import StatementBounds
from payments_core.db.engine import create_engine, create_session_factory
from payments_core.settings import WebhookSenderSettings
from payments_core.webhooks.attempt import new_connections
from payments_webhook_sender.dispatcher import DeliveryDispatcher
from payments_webhook_sender.intake import IntakeHandler

log = structlog.get_logger("payments_webhook_sender")

HEALTH_HOST = "0.0.0.0"  # noqa: S104 - probes reach the pod's own address


class WebhookSenderService:
    def __init__(
        self,
        settings: WebhookSenderSettings,
        consumer_settings: ConsumerSettings | None = None,
        *,
        aws: AwsContext | None = None,
        health_host: str = HEALTH_HOST,
    ) -> None:
        self.settings = settings
        self.consumer_settings = consumer_settings or ConsumerSettings()
        self.aws = aws or AwsContext.from_settings(settings)
        self.health_host = health_host
        self.health: HealthServer | None = None
        self.poller: SqsPoller | None = None
        self.dispatcher: DeliveryDispatcher | None = None
        self._stopping = asyncio.Event()

    @property
    def healthy(self) -> bool:
        if self._stopping.is_set():
            return False
        poller_ok = self.poller is None or self.poller.running
        dispatcher_ok = self.dispatcher is None or self.dispatcher.running
        return poller_ok and dispatcher_ok

    def stop(self) -> None:
        self._stopping.set()
        if self.poller is not None:
            self.poller.stop()

    def polling_config(self) -> PollingConfig:
        return PollingConfig.from_settings(
            self.settings.payment_webhook_queue,
            concurrency=self.settings.webhook_queue_concurrency,
            settings=self.consumer_settings,
        )

    async def run(self) -> None:
        if self.settings.health_port:
            self.health = HealthServer(
                lambda: self.healthy, host=self.health_host, port=self.settings.health_port
            )
            await self.health.start()
        engine = create_engine(
            self.settings.database_url,
            pool_size=self.settings.database_pool_size,
            bounds=StatementBounds.from_settings(self.settings),
        )
        connections = new_connections(self.settings.webhook_concurrency)
        sessions = create_session_factory(engine)
        self.dispatcher = DeliveryDispatcher(sessions, self.settings, connections)
        drain = self.consumer_settings.sqs_drain_seconds
        dispatching = asyncio.create_task(self.dispatcher.run(drain), name="webhook-dispatcher")
        log.info(
            "webhooks.started",
            queue=self.settings.payment_webhook_queue,
            concurrency=self.settings.webhook_concurrency,
            retry_schedule=list(self.settings.webhook_retry_schedule),
        )
        try:
            config = self.polling_config()
            handler = IntakeHandler(sessions, self.dispatcher.wake)
            async with polling_sqs_client(self.aws, wait_seconds=config.wait_seconds) as sqs:
                self.poller = SqsPoller(sqs, handler, config)
                if self._stopping.is_set():
                    self.poller.stop()
                async with sampling_queue_depth(sqs, config.queue):
                    await self.poller.run()
        finally:
            self.dispatcher.stop()
            await dispatching
            await connections.aclose()
            await engine.dispose()
            if self.health is not None:
                await self.health.close()
