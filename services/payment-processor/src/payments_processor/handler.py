"""One record of payment-processing-queue → one workflow start, idempotent by workflow id.

`payment.initiated` starts PaymentProcessingWorkflow as `payment-<id>`, `refund.created` starts
RefundWorkflow as `refund-<id>`. A redelivered event starts nothing new: a running workflow of
that id is reused (conflict policy USE_EXISTING) and a finished one is not run again (reuse
policy REJECT_DUPLICATE, which Temporal reports as WorkflowAlreadyStartedError: a success here).

Workflows are started by name, so this service does not import the worker. Temporal being
unreachable raises: the record fails and SQS delivers it again after its visibility timeout.
"""

from dataclasses import dataclass

import structlog
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from payments_core.consumer.envelope import ReceivedEvent, parse_event, required_id
from payments_core.consumer.errors import PoisonMessage
from payments_core.consumer.records import SqsRecord
from payments_core.events.envelope import EventType
from payments_core.temporal.inputs import PaymentWorkflowInput, RefundWorkflowInput
from payments_core.temporal.names import (
    PAYMENT_WORKFLOW,
    REFUND_WORKFLOW,
    payment_workflow_id,
    refund_workflow_id,
)

log = structlog.get_logger("payments_processor")

# The subscription's filter policy lets only these through (CONTRACT.md §2).
HANDLED_TYPES = frozenset({EventType.PAYMENT_INITIATED, EventType.REFUND_CREATED})
ID_REUSE_POLICY = WorkflowIDReusePolicy.REJECT_DUPLICATE
ID_CONFLICT_POLICY = WorkflowIDConflictPolicy.USE_EXISTING


@dataclass(frozen=True)
class WorkflowStart:
    workflow: str
    workflow_id: str
    argument: PaymentWorkflowInput | RefundWorkflowInput


def workflow_start(event: ReceivedEvent) -> WorkflowStart:
    """Which workflow an event starts; PoisonMessage for an event the processor never gets."""
    if event.type is EventType.PAYMENT_INITIATED:
        payment_id = required_id(event, "payment", "id")
        return WorkflowStart(
            PAYMENT_WORKFLOW, payment_workflow_id(payment_id), PaymentWorkflowInput(payment_id)
        )
    if event.type is EventType.REFUND_CREATED:
        refund_id = required_id(event, "refund", "id")
        payment_id = _refund_payment_id(event)
        return WorkflowStart(
            REFUND_WORKFLOW,
            refund_workflow_id(refund_id),
            RefundWorkflowInput(refund_id=refund_id, payment_id=payment_id),
        )
    # Filtered out by the subscription: seeing one means the filter policy is wrong.
    raise PoisonMessage(f"{event.type.value} is not handled by the payment processor")


def _refund_payment_id(event: ReceivedEvent) -> str:
    refund = event.data.get("refund")
    if isinstance(refund, dict) and isinstance(refund.get("paymentId"), str):
        return str(refund["paymentId"])
    return required_id(event, "payment", "id")


@dataclass(frozen=True)
class ProcessingHandler:
    """The per-record handler the polling loop and the Lambda entrypoint both call."""

    client: Client
    task_queue: str

    async def __call__(self, record: SqsRecord) -> None:
        event = parse_event(record.body)
        start = workflow_start(event)
        try:
            await self.client.start_workflow(
                start.workflow,
                start.argument,
                id=start.workflow_id,
                task_queue=self.task_queue,
                id_reuse_policy=ID_REUSE_POLICY,
                id_conflict_policy=ID_CONFLICT_POLICY,
            )
        except WorkflowAlreadyStartedError:
            # Finished earlier (a redelivery, or a replayed event): nothing to start.
            log.info(
                "processor.workflow_already_done",
                workflow_id=start.workflow_id,
                event_id=event.id,
                message_id=record.message_id,
            )
            return
        log.info(
            "processor.workflow_started",
            workflow=start.workflow,
            workflow_id=start.workflow_id,
            event_id=event.id,
            message_id=record.message_id,
        )
