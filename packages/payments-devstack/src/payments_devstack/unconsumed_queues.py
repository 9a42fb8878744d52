"""Keep queues that no local service consumes short in the emulator.

A short MessageRetentionPeriod is set on them (what real SQS would honour), but moto never
deletes expired messages: it only checks retention on receive. And moto's SendMessage reads the
queue's attributes, which walks every message in the queue three times: each publish to the
topic gets slower as these queues fill (and with it the outbox relay, and every webhook). So a
daemon thread that dies with `make up` purges such a queue once it holds more than `max_depth`
messages, checking every second: recent events stay visible for inspection, and every send stays
cheap. A purge costs moto nothing per message, where receiving and deleting the oldest would cost
it the queue's depth per message; `MotoServer` lifts moto's one-purge-a-minute rule for this.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from payments_core.aws.topology import QUEUES

# Nothing reads these queues locally: keep an hour of events for inspection, no more. (moto
# hides expired messages but never deletes them, and an expired message at the head of a queue
# hides newer ones from ReceiveMessage: so the retention is not minutes, and QueuePurger bounds
# the depth.)
RETENTION_SECONDS = 3600
CHECK_EVERY_SECONDS = 1.0
MAX_DEPTH = 100


def unconsumed_queue_names(consumed: Iterable[str]) -> list[str]:
    """The topology's queues that no local service reads."""
    reading = set(consumed)
    return [queue.name for queue in QUEUES if queue.name not in reading]


class QueuePurger:
    """Purges each queue holding more than `max_depth` messages, every `every_seconds`."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        queue_urls: Sequence[str],
        every_seconds: float = CHECK_EVERY_SECONDS,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        self._queue_urls = tuple(queue_urls)
        self._every_seconds = every_seconds
        self._max_depth = max_depth
        self._stopped = threading.Event()
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
        self._thread = threading.Thread(target=self._run, name="queue-purger", daemon=True)

    def start(self) -> QueuePurger:
        if self._queue_urls:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self._every_seconds):
            for url in self._queue_urls:
                try:
                    self.purge_if_deep(url)
                except (BotoCoreError, ClientError):
                    # The emulator is stopping or was reset; the next round tries again.
                    continue

    def purge_if_deep(self, url: str) -> bool:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        if int(attributes["ApproximateNumberOfMessages"]) <= self._max_depth:
            return False
        self._sqs.purge_queue(QueueUrl=url)
        return True
