"""The SNS/SQS topology of CONTRACT.md §2, defined once for provisioning and every consumer."""

from dataclasses import dataclass

from payments_core.events.envelope import EventType

TOPIC_NAME = "payment-events"
EVENT_TYPE_ATTRIBUTE = "type"
MERCHANT_ID_ATTRIBUTE = "merchantId"
TRACEPARENT_ATTRIBUTE = "traceparent"
DEFAULT_MAX_RECEIVE_COUNT = 5
DLQ_SUFFIX = "-dlq"

PROCESSING_QUEUE = "payment-processing-queue"
WEBHOOK_QUEUE = "payment-webhook-queue"
ANALYTICS_QUEUE = "payment-analytics-queue"
NOTIFICATION_QUEUE = "payment-notification-queue"

ALL_EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """One subscribed queue and the event types its subscription lets through.

    "Every type" queues still list the types explicitly (CONTRACT.md §2: each queue has a filter
    policy on `type`): a message without a known `type` never reaches a consumer that could not
    parse it, and a new EventType reaches queues only once provisioning runs with the code that
    knows it.
    """

    name: str
    event_types: tuple[EventType, ...]

    @property
    def dlq_name(self) -> str:
        return dead_letter_queue_name(self.name)

    def filter_policy(self) -> dict[str, list[str]]:
        return {EVENT_TYPE_ATTRIBUTE: sorted(event_type.value for event_type in self.event_types)}


def dead_letter_queue_name(queue_name: str) -> str:
    return queue_name + DLQ_SUFFIX


QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec(PROCESSING_QUEUE, (EventType.PAYMENT_INITIATED, EventType.REFUND_CREATED)),
    QueueSpec(WEBHOOK_QUEUE, ALL_EVENT_TYPES),
    QueueSpec(ANALYTICS_QUEUE, ALL_EVENT_TYPES),
    QueueSpec(NOTIFICATION_QUEUE, ALL_EVENT_TYPES),
)

QUEUES_BY_NAME: dict[str, QueueSpec] = {queue.name: queue for queue in QUEUES}
