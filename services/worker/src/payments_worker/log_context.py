"""Every log line an activity writes names its workflow, its activity and the payment or refund.

Activities take one dataclass (PATTERNS.md); the ids come from its `payment_id` / `refund_id`.
"""

from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

IDS = ("payment_id", "refund_id")


class ActivityLogContext(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindIds(next)


class _BindIds(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        context = {"workflow_id": info.workflow_id, "activity": info.activity_type}
        for argument in input.args[:1]:
            for name in IDS:
                value = getattr(argument, name, None)
                if isinstance(value, str):
                    context[name] = value
        with structlog.contextvars.bound_contextvars(**context):
            return await super().execute_activity(input)
