"""Workflow, signal and query names and workflow ids, defined once.

The processor starts workflows and the API signals them without importing the worker's code,
so the names live here. Workflow ids derive from the business id: a redelivered event can never
start a second workflow for the same payment or refund.
"""

PAYMENT_WORKFLOW = "PaymentProcessingWorkflow"
REFUND_WORKFLOW = "RefundWorkflow"
CANCEL_SIGNAL = "cancel"
CURRENT_STEP_QUERY = "current_step"


def payment_workflow_id(payment_id: str) -> str:
    return f"payment-{payment_id}"


def refund_workflow_id(refund_id: str) -> str:
    return f"refund-{refund_id}"
