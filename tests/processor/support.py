"""Temporal look-ups for the processor tests."""

import json
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus

from tests.core.consumer.support import eventually


async def runs_of(client: Client, workflow_id: str) -> list[tuple[str, WorkflowExecutionStatus]]:
    """Every run of a workflow id (visibility is eventually consistent: callers poll)."""
    return [
        (execution.run_id, execution.status)
        async for execution in client.list_workflows(f'WorkflowId = "{workflow_id}"')
        if execution.status is not None
    ]


async def wait_for_runs(client: Client, workflow_id: str, count: int) -> None:
    async def listed() -> bool:
        return len(await runs_of(client, workflow_id)) >= count

    await eventually(listed, within=10, what=f"{count} run(s) of {workflow_id} listed")


async def started_input(client: Client, workflow_id: str) -> dict[str, Any]:
    """The JSON argument the workflow was started with."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    decoded: dict[str, Any] = json.loads(started.input.payloads[0].data)
    return decoded
