"""Gateway and worker faults for the worker tests: an outage after the first capture, a capture
whose answer is lost, a worker that dies after recording a capture."""

from dataclasses import dataclass

from payments_core.gateway.connector import CaptureRequest, GatewayResult, VoidRequest, VoidResult
from payments_core.gateway.errors import GatewayTimeout, GatewayUnavailable
from payments_core.gateway.sandbox import SandboxConnector
from payments_worker.activities import PaymentActivities
from payments_worker.payloads import Capture, CaptureInput


@dataclass
class GatewayOutage:
    """The sandbox, with every capture and void after the first capture failing: down."""

    sandbox: SandboxConnector
    # Capture calls that fail after the first one; None: the outage never ends.
    failing_captures: int | None = None
    # The first capture happens at the gateway but its answer is lost.
    lose_first_answer: bool = False
    captures: int = 0
    voids: int = 0

    async def capture(self, request: CaptureRequest) -> GatewayResult:
        self.captures += 1
        if self.captures == 1:
            result = await self.sandbox.capture(request)
            if self.lose_first_answer:
                raise GatewayTimeout("the capture's answer was lost")
            return result
        if self.failing_captures is None or self.captures <= 1 + self.failing_captures:
            raise GatewayUnavailable("gateway down")
        return await self.sandbox.capture(request)

    async def void(self, request: VoidRequest) -> VoidResult:
        self.voids += 1
        if self.failing_captures is None:
            raise GatewayUnavailable("gateway down")
        return await self.sandbox.void(request)

    def __getattr__(self, name: str) -> object:
        return getattr(self.sandbox, name)


class CompletionLost(PaymentActivities):
    """The worker dies right after the first capture's record commits: its completion is lost."""

    died = False

    async def _capture(self, request: CaptureInput) -> Capture:
        result = await super()._capture(request)
        if not self.died:
            self.died = True
            raise RuntimeError("worker killed before reporting the capture")
        return result
