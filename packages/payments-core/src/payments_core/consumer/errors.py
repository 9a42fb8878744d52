"""How a handler tells the consumer a record can never be handled."""

from payments_core.errors import PaymentsError


class PoisonMessage(PaymentsError):
    """The record cannot be parsed or is of a type this consumer does not handle.

    It still counts as failed, so SQS redrives it to the queue's DLQ after `maxReceiveCount`
    receives; the consumer logs it once, on its first receive. `reason` must not quote the
    message body: bodies may hold data a merchant considers private.
    """

    code = "poison_message"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
