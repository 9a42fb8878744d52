"""A careless change to the payment workflow, in a module of its own so that the sandbox can
import it: it reads the machine's clock, which replays differently."""

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from payments_core.temporal import names
    from payments_core.temporal.inputs import PaymentWorkflowInput


@workflow.defn(name=names.PAYMENT_WORKFLOW)
class ClockReadingPaymentWorkflow:
    @workflow.run
    async def run(self, request: PaymentWorkflowInput) -> None:
        datetime.now()
