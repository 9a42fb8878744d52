"""`python -m payments_processor`: consume payment-processing-queue and start workflows."""

from payments_core.consumer.settings import ConsumerSettings
from payments_core.settings import ProcessorSettings, load_settings


def main() -> None:
    # Settings first, before the heavy imports: a bad variable is reported in a blink.
    settings = load_settings(ProcessorSettings)
    consumer_settings = load_settings(ConsumerSettings)

    import asyncio
    import contextlib

    from payments_core.consumer.signals import run_until_signalled
    from payments_core.telemetry.logging import configure_logging
    from payments_core.telemetry.tracing import PROCESSOR_SERVICE, configure_tracing
    from payments_processor.service import ProcessorService

    configure_logging(settings.log_level, settings.log_format)
    tracing = configure_tracing(PROCESSOR_SERVICE)
    try:
        # A second signal cancels the drain; that cancellation ends the process, not a traceback.
        with contextlib.suppress(asyncio.CancelledError):
            service = ProcessorService(settings, consumer_settings)
            asyncio.run(run_until_signalled(service, "processor"))
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
