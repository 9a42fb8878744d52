"""What Temporal says of a row's workflow, and waking it: shared by the reconciler's stale rows
(janitor.py) and the processor's notices (notices.py), so both decide alike."""

from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from payments_core.temporal import names

DESCRIBE_RPC_TIMEOUT = timedelta(seconds=5)


class Workflow:
    RUNNING = "running"
    NEVER_STARTED = "never_started"
    ENDED = "ended"
    UNKNOWN = "unknown"


async def describe(client: Client, workflow_id: str) -> str:
    try:
        description = await client.get_workflow_handle(workflow_id).describe(
            rpc_timeout=DESCRIBE_RPC_TIMEOUT
        )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return Workflow.NEVER_STARTED
        return Workflow.UNKNOWN
    except Exception:
        return Workflow.UNKNOWN
    if description.status == WorkflowExecutionStatus.RUNNING:
        return Workflow.RUNNING
    return Workflow.ENDED


async def wake(client: Client, workflow_id: str) -> str | None:
    """Signal WAKE (a waiting workflow re-reads PostgreSQL; harmless otherwise). None when sent,
    else the error's name: ended meanwhile, or Temporal away."""
    try:
        await client.get_workflow_handle(workflow_id).signal(
            names.WAKE_SIGNAL, rpc_timeout=DESCRIBE_RPC_TIMEOUT
        )
    except Exception as error:
        return type(error).__name__
    return None
