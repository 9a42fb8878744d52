"""The Temporal ceiling's subject: a workflow of five activities that do nothing.

Shaped like PaymentProcessingWorkflow (five activities in sequence, one dataclass input each,
explicit timeouts), run by a worker with the platform worker's settings (`noop_worker`).
"""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

STEPS = ("start_processing", "begin_authorization", "authorize", "capture", "complete")


@dataclass(frozen=True)
class NoopInput:
    payment_id: str
    step: str = ""


@activity.defn(name="bench_noop")
async def noop(request: NoopInput) -> str:
    return request.step


@workflow.defn(name="BenchNoopWorkflow")
class NoopWorkflow:
    @workflow.run
    async def run(self, request: NoopInput) -> str:
        for step in STEPS:
            await workflow.execute_activity(
                noop,
                NoopInput(request.payment_id, step),
                start_to_close_timeout=timedelta(seconds=5),
            )
        return "completed"
