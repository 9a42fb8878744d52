"""`python -m payments_webhook_sender`: consume payment-webhook-queue and deliver webhooks."""

from payments_core.consumer.settings import ConsumerSettings
from payments_core.settings import WebhookSenderSettings, load_settings


def main() -> None:
    # Settings first, before the heavy imports: a bad variable is reported in a blink.
    settings = load_settings(WebhookSenderSettings)
    consumer_settings = load_settings(ConsumerSettings)

    import asyncio
    import contextlib

    from payments_core.consumer.signals import run_until_signalled
    from payments_core.telemetry.logging import configure_logging
    from payments_core.telemetry.tracing import WEBHOOK_SENDER_SERVICE, configure_tracing
    from payments_webhook_sender.service import WebhookSenderService

    configure_logging(settings.log_level, settings.log_format)
    tracing = configure_tracing(WEBHOOK_SENDER_SERVICE)
    try:
        # A second signal cancels the drain; that cancellation ends the process, not a traceback.
        with contextlib.suppress(asyncio.CancelledError):
            service = WebhookSenderService(settings, consumer_settings)
            asyncio.run(run_until_signalled(service, "webhooks"))
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
