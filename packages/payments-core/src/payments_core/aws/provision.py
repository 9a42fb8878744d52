"""`python -m payments_core.aws.provision`: create or update the SNS/SQS topology, print it.

Reads ServiceSettings (AWS_ENDPOINT_URL empty for real AWS, AWS_REGION, PAYMENT_EVENTS_TOPIC); run
as a Kubernetes Job before the services start, or by `make up` against the local emulator.
"""

import argparse
import asyncio

from payments_core.aws.errors import AwsRequestError, AwsUnavailable
from payments_core.aws.provisioning import ProvisionedResources, provision
from payments_core.aws.topology import DEFAULT_MAX_RECEIVE_COUNT
from payments_core.settings import ServiceSettings, load_settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m payments_core.aws.provision")
    parser.add_argument(
        "--retention",
        action="append",
        default=[],
        metavar="QUEUE=SECONDS",
        help="MessageRetentionPeriod for a queue and its DLQ (repeatable)",
    )
    parser.add_argument("--max-receive-count", type=int, default=DEFAULT_MAX_RECEIVE_COUNT)
    return parser.parse_args(argv)


def parse_retention(items: list[str]) -> dict[str, int]:
    retention: dict[str, int] = {}
    for item in items:
        name, _, seconds = item.partition("=")
        if not name or not seconds.isdigit():
            raise SystemExit(f"--retention expects QUEUE=SECONDS, got {item!r}")
        retention[name] = int(seconds)
    return retention


def describe(resources: ProvisionedResources) -> list[str]:
    lines = [f"topic {resources.topic_arn}"]
    for name in sorted(resources.queue_urls):
        lines.append(f"queue {name} {resources.queue_urls[name]}")
    lines.extend(f"changed: {change}" for change in resources.changes)
    if not resources.changes:
        lines.append("unchanged: everything already as described")
    return lines


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = load_settings(ServiceSettings)
    try:
        resources = asyncio.run(
            provision(
                settings,
                topic_name=settings.payment_events_topic,
                retention_seconds=parse_retention(args.retention),
                max_receive_count=args.max_receive_count,
            )
        )
    except (AwsUnavailable, AwsRequestError) as error:
        raise SystemExit(f"provisioning failed: {error.message}") from None
    for line in describe(resources):
        print(line)  # noqa: T201


if __name__ == "__main__":
    main()
