"""Best-effort signals from the API to running workflows.

PostgreSQL decides (the cancel is committed before any signal is sent); a signal only lets a
workflow that is waiting stop early. So Temporal being away never fails a request: the signal is
skipped, logged, and the workflow finds the cancelled status at its next step.
"""

import asyncio

import structlog
from temporalio.client import Client

from payments_core.temporal.client import connect
from payments_core.temporal.names import CANCEL_SIGNAL, payment_workflow_id

log = structlog.get_logger()

SIGNAL_TIMEOUT_SECONDS = 2.0


class WorkflowSignals:
    def __init__(self, address: str | None, namespace: str) -> None:
        self._address, self._namespace = address, namespace
        self._client: Client | None = None

    async def cancel_payment(self, payment_id: str) -> None:
        if self._address is None:
            return
        try:
            async with asyncio.timeout(SIGNAL_TIMEOUT_SECONDS):
                client = await self._connected()
                await client.get_workflow_handle(payment_workflow_id(payment_id)).signal(
                    CANCEL_SIGNAL
                )
        except Exception as error:  # no workflow yet, already finished, or Temporal away
            log.info(
                "api.cancel_signal_skipped", payment_id=payment_id, reason=type(error).__name__
            )

    async def _connected(self) -> Client:
        if self._client is None:
            self._client = await connect(self._address or "", self._namespace)
        return self._client
