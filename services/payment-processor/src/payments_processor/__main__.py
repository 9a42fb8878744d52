"""`python -m payments_processor`: consume payment-processing-queue and start workflows."""

from payments_core.consumer.settings import ConsumerSettings
from payments_core.settings import ProcessorSettings, load_settings


def main() -> None:
    # Settings first, before the heavy imports: a bad variable is reported in a blink.
    settings = load_settings(ProcessorSettings)
    consumer_settings = load_settings(ConsumerSettings)

    from payments_core.consumer.signals import run_consumer_process
    from payments_core.telemetry.tracing import PROCESSOR_SERVICE
    from payments_processor.service import ProcessorService

    run_consumer_process(
        settings,
        lambda: ProcessorService(settings, consumer_settings),
        "processor",
        PROCESSOR_SERVICE,
    )


if __name__ == "__main__":
    main()
