"""Best-effort messages from the API to running workflows: signals, and the update that carries
out a capture or cancel of an authorized payment.

PostgreSQL decides (the cancel, the capture, the customer's answer are committed before any
message is sent); a message only lets a waiting workflow act now. So Temporal being away never
changes an outcome: the message is skipped, logged, and the workflow reads the decision when it
next wakes (its timer, or the reconciler's nudge).
"""

import asyncio

import structlog
from temporalio.client import Client

from payments_core.temporal.client import connect
from payments_core.temporal.names import (
    CANCEL_SIGNAL,
    HOLD_DECIDED_UPDATE,
    WAKE_SIGNAL,
    payment_workflow_id,
)

log = structlog.get_logger()

SIGNAL_TIMEOUT_SECONDS = 2.0


class WorkflowSignals:
    def __init__(self, address: str | None, namespace: str) -> None:
        self._address, self._namespace = address, namespace
        self._client: Client | None = None

    async def cancel_payment(self, payment_id: str) -> None:
        await self._signal(payment_id, CANCEL_SIGNAL)

    async def wake(self, payment_id: str) -> None:
        await self._signal(payment_id, WAKE_SIGNAL)

    async def hold_decided(self, payment_id: str, *, within_seconds: float) -> str | None:
        """Have the workflow carry out the capture or cancel decided for `payment_id` and wait
        for it: the payment's final status, or None when no answer came within the time."""
        if self._address is None:
            return None
        try:
            async with asyncio.timeout(within_seconds):
                client = await self._connected()
                handle = client.get_workflow_handle(payment_workflow_id(payment_id))
                # One update id per payment: a retried request joins the first one's update.
                status: str = await handle.execute_update(
                    HOLD_DECIDED_UPDATE, id=f"hold-decided-{payment_id}", result_type=str
                )
                return status
        except Exception as error:  # Temporal away, the workflow gone, or slower than allowed
            log.warning(
                "api.hold_update_unanswered", payment_id=payment_id, reason=type(error).__name__
            )
            return None

    async def _signal(self, payment_id: str, signal: str) -> None:
        if self._address is None:
            return
        try:
            async with asyncio.timeout(SIGNAL_TIMEOUT_SECONDS):
                client = await self._connected()
                await client.get_workflow_handle(payment_workflow_id(payment_id)).signal(signal)
        except Exception as error:  # no workflow yet, already finished, or Temporal away
            log.info(
                "api.signal_skipped",
                payment_id=payment_id,
                signal=signal,
                reason=type(error).__name__,
            )

    async def _connected(self) -> Client:
        if self._client is None:
            self._client = await connect(self._address or "", self._namespace)
        return self._client
