"""Keep queues that no local service consumes from growing without bound in the emulator.

A short MessageRetentionPeriod is set on them (what real SQS would honour), but moto never
deletes expired messages: it only checks retention on receive. So a daemon thread that dies with
`make up` also purges a queue once it holds more than `max_depth` messages: recent events stay
visible for inspection, and the depth (which slows every send to that queue) stays bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import boto3
from botocore.exceptions import BotoCoreError, ClientError


class QueuePurger:
    def __init__(
        self,
        endpoint_url: str,
        region: str,
        queue_urls: Sequence[str],
        every_seconds: float,
        max_depth: int = 1000,
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
                    attributes = self._sqs.get_queue_attributes(
                        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
                    )["Attributes"]
                    if int(attributes["ApproximateNumberOfMessages"]) > self._max_depth:
                        self._sqs.purge_queue(QueueUrl=url)
                except (BotoCoreError, ClientError):
                    # The emulator is stopping or was reset; the next round tries again.
                    continue
