"""`python -m payments_webhook_sender`: consume payment-webhook-queue and deliver webhooks."""

from payments_core.consumer.settings import ConsumerSettings
from payments_core.settings import WebhookSenderSettings, load_settings


def main() -> None:
    # Settings first, before the heavy imports: a bad variable is reported in a blink.
    settings = load_settings(WebhookSenderSettings)
    consumer_settings = load_settings(ConsumerSettings)

    from payments_core.consumer.signals import run_consumer_process
    from payments_core.telemetry.tracing import WEBHOOK_SENDER_SERVICE
    from payments_webhook_sender.service import WebhookSenderService

    run_consumer_process(
        settings,
        lambda: WebhookSenderService(settings, consumer_settings),
        "webhooks",
        WEBHOOK_SENDER_SERVICE,
    )


if __name__ == "__main__":
    main()
