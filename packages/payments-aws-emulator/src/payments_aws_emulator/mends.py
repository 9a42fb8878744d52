"""moto's server, with two flaws of its SQS mended (`python -m payments_aws_emulator`).

Everything local (`make up`, the tests, `make chaos`, `make bench`) runs the AWS emulator this
way, and so does the emulator image of k8s/dev (`make images`). Real SQS has neither flaw; the
mends change no behaviour an SQS client can rely on.

1. **A lost message.** `Queue.delete_message` rebuilds the queue's message list from the list
   it started reading, without the lock `add_message` takes. moto's server handles requests on
   threads, so when two deletes on one queue overlap (one consumer settling two batches at
   once) and a send lands between them, the later delete writes back a list that never held
   the new message: the message is gone without a trace, and a deleted one comes back. Seen in
   `make bench` as a `payment.initiated` that never reached the processing queue (the sweeper
   started its workflow two minutes late) and, earlier, as a `payment.completed` that never
   reached the webhook queue. A receive that moves messages to the DLQ removes them from the
   same list, also unlocked, so a delete beside it brought them back to the queue, and the
   receive itself could fail with "Set changed size during iteration" (a 500). The mend: a
   delete, and a receive, hold the queue's lock (a long poll's wait releases it).
2. **Cost proportional to depth, many times over.** Receiving a message reads every queue
   attribute to check its retention period, and the approximate counts among them walk every
   message of the queue; each `visible` or `delayed` test of a message builds two datetimes.
   At a depth of 1,000, moto spent 550 ms of CPU receiving ten messages and 18 ms on one send,
   so a burst's backlog drained slower the deeper it was (the webhook lag under `make bench`).
   The mends: the retention check reads the one attribute it needs, and a message's
   visibility compares against `time.time()`, which is what moto's clock computes.
"""

import sys
import time
from typing import Any

from moto.sqs import models

_MENDED = "_payments_mended"


def apply() -> None:
    """Mend moto's SQS classes in this process; safe to call more than once."""
    if getattr(models.Queue, _MENDED, False):
        return
    for owner, name in (
        (models.Queue, "delete_message"),
        (models.SQSBackend, "receive_message"),
        (models.Message, "visible"),
        (models.Message, "delayed"),
        (models.SQSBackend, "is_message_valid_based_on_retention_period"),
    ):
        if not hasattr(owner, name):
            # A moto upgrade moved what is mended: fail loudly rather than run with the flaw.
            raise RuntimeError(
                f"moto {owner.__name__}.{name} is gone: revisit payments_aws_emulator/mends.py"
            )

    unlocked_delete = models.Queue.delete_message

    def delete_message(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:  # the lock add_message takes (a reentrant Condition)
            unlocked_delete(self, receipt_handle)

    unlocked_receive = models.SQSBackend.receive_message

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        # Waiting for messages is a wait on this same Condition, which releases the lock (at
        # every level: it is reentrant) until a send notifies it.
        with self.get_queue(queue_name)._messages_lock:
            return unlocked_receive(self, queue_name, *args, **kwargs)

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        retention_seconds = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_seconds + message.sent_timestamp / 1000 > time.time())

    models.Queue.delete_message = delete_message  # type: ignore[method-assign]
    models.SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    models.Message.visible = property(lambda self: time.time() * 1000 > self.visible_at)  # type: ignore[method-assign,assignment]
    models.Message.delayed = property(lambda self: time.time() * 1000 < self.delayed_until)  # type: ignore[method-assign,assignment]
    models.SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )
    setattr(models.Queue, _MENDED, True)


def main() -> None:
    apply()
    from moto.server import main as moto_server_main

    moto_server_main(sys.argv[1:])
