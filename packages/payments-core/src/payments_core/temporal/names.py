"""Workflow, signal and query names and workflow ids, defined once.

The processor starts workflows and the API signals them without importing the worker's code,
so the names live here. Workflow ids derive from the business id: a redelivered event can never
start a second workflow for the same payment or refund.
"""

PAYMENT_WORKFLOW = "PaymentProcessingWorkflow"
REFUND_WORKFLOW = "RefundWorkflow"
CANCEL_SIGNAL = "cancel"
# "PostgreSQL holds a decision for you" (a customer's answer to a challenge, or a nudge from the
# reconciler): a waiting workflow wakes and reads it. The decision never travels in the signal.
WAKE_SIGNAL = "wake"
# The API's capture or cancel of an authorized payment, decided in PostgreSQL first: the
# workflow wakes, carries the decision out, and answers with the payment's final status.
HOLD_DECIDED_UPDATE = "hold_decided"
CURRENT_STEP_QUERY = "current_step"


def payment_workflow_id(payment_id: str) -> str:
    return f"payment-{payment_id}"


def refund_workflow_id(refund_id: str) -> str:
    return f"refund-{refund_id}"
