"""Keep queues that no local service consumes short in the emulator.

A short MessageRetentionPeriod is set on them (what real SQS would honour), but moto never
deletes expired messages: it only checks retention on receive. And moto's SendMessage reads the
queue's attributes, which walks every message in the queue three times: each publish to the
topic gets slower as these queues fill. So a daemon thread that dies with `make up` trims each
one every second to its newest `max_depth` messages, receiving and deleting the oldest: recent
events stay visible for inspection, and every send stays cheap. (Trimming, not PurgeQueue: moto
allows one purge a minute per queue, in which time a burst of payments fills a queue again.)
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
_RECEIVE_MAX = 10  # the SQS maximum per ReceiveMessage
# Received messages are deleted at once; this only covers a trim cut short by a stop.
_RECEIVED_HIDDEN_SECONDS = 30


def unconsumed_queue_names(consumed: Iterable[str]) -> list[str]:
    """The topology's queues that no local service reads."""
    reading = set(consumed)
    return [queue.name for queue in QUEUES if queue.name not in reading]


class QueuePurger:
    """Trims each queue to its newest `max_depth` messages every `every_seconds`."""

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
                    self.trim(url)
                except (BotoCoreError, ClientError):
                    # The emulator is stopping or was reset; the next round tries again.
                    continue

    def trim(self, url: str) -> int:
        """Delete the oldest messages beyond `max_depth`; returns how many were deleted."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        excess = int(attributes["ApproximateNumberOfMessages"]) - self._max_depth
        deleted = 0
        while deleted < excess and not self._stopped.is_set():
            messages = self._sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(_RECEIVE_MAX, excess - deleted),
                VisibilityTimeout=_RECEIVED_HIDDEN_SECONDS,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not messages:
                # An expired message at the head hides the rest from ReceiveMessage (after an
                # hour's idle, say): only a purge clears the queue then.
                self._sqs.purge_queue(QueueUrl=url)
                break
            self._sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(messages)
                ],
            )
            deleted += len(messages)
        return deleted
