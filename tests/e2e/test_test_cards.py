"""Every sandbox test card (CONTRACT.md §1) through the whole pipeline at once, from
`POST /payments` to the final status, its outbox events and the acquirer's ledger."""

import asyncio
from typing import Any

from payments_core.aws.topology import ANALYTICS_QUEUE
from payments_core.gateway.sandbox.entries import Operation, Outcome
from payments_core.temporal.names import payment_workflow_id
from payments_worker.payloads import PaymentOutcome
from tests.e2e.support import (
    ALL_TEST_CARDS,
    CAPTURE_FAILS_CARD,
    DECLINED_CARD,
    INSUFFICIENT_FUNDS_CARD,
    SUCCEEDING_CARDS,
    TIMEOUT_CARD,
    TRANSIENT_CARD,
    Merchant,
    Pipeline,
)

BANK_TRANSFER = "bank_transfer"
TOKENIZED_CARD = "tokenized_card"  # the original design's shape: a card with no number
NON_CARD_METHODS = {
    BANK_TRANSFER: {"type": "bank_transfer"},
    TOKENIZED_CARD: {"type": "card", "provider": "paystack", "lastFour": "4242"},
}

# (status, failureReason) per the contract's table; other method types complete.
EXPECTED: dict[str, tuple[str, str | None]] = {
    **{card: ("completed", None) for card in SUCCEEDING_CARDS},
    DECLINED_CARD: ("failed", "card_declined"),
    INSUFFICIENT_FUNDS_CARD: ("failed", "insufficient_funds"),
    TRANSIENT_CARD: ("completed", None),
    CAPTURE_FAILS_CARD: ("failed", "capture_failed"),
    TIMEOUT_CARD: ("failed", "gateway_timeout"),
    BANK_TRANSFER: ("completed", None),
    TOKENIZED_CARD: ("completed", None),
}

APPROVED = Outcome.APPROVED.value
AUTHORIZE, CAPTURE, VOID = Operation.AUTHORIZE.value, Operation.CAPTURE.value, Operation.VOID.value


async def _create(pipeline: Pipeline, merchant: Merchant, instrument: str) -> dict[str, Any]:
    if instrument in NON_CARD_METHODS:
        method_id = await pipeline.add_method(merchant, NON_CARD_METHODS[instrument])
    else:
        method_id = await pipeline.add_card(merchant, instrument)
    return await pipeline.create_payment(merchant, method_id, amount=25_000)


async def test_every_test_card_reaches_the_contracts_outcome(pipeline: Pipeline) -> None:
    merchant = await pipeline.onboard()
    instruments = [*ALL_TEST_CARDS, *NON_CARD_METHODS]
    created = await asyncio.gather(*(_create(pipeline, merchant, i) for i in instruments))
    finals = await asyncio.gather(
        *(pipeline.wait_for_payment(merchant, payment["id"]) for payment in created)
    )

    outcomes = {
        instrument: (final["status"], final["failureReason"])
        for instrument, final in zip(instruments, finals, strict=True)
    }
    assert outcomes == EXPECTED

    for instrument, payment in zip(instruments, finals, strict=True):
        payment_id = payment["id"]
        status = payment["status"]
        context = f"{instrument}: {payment}"

        # The payment object.
        if status == "completed":
            assert payment["gatewayReference"], context
            assert payment["completedAt"] is not None, context
            assert payment["completedAt"] >= payment["createdAt"], context
        else:
            assert payment["completedAt"] is None, context
        if instrument == CAPTURE_FAILS_CARD:  # authorized before the capture failed
            assert payment["gatewayReference"], context
        if instrument in (DECLINED_CARD, INSUFFICIENT_FUNDS_CARD):  # never authorized
            assert payment["gatewayReference"] is None, context
        assert payment["amountRefunded"] == 0, context

        # Its events: in order, each carrying the payment as it was then, all published.
        final_event = "payment.completed" if status == "completed" else "payment.failed"
        events = await pipeline.wait_published("payment", payment_id, count=3)
        assert [event["type"] for event in events] == [
            "payment.initiated",
            "payment.processing",
            final_event,
        ], context
        assert [event["payload"]["data"]["payment"]["status"] for event in events] == [
            "pending",
            "processing",
            status,
        ], context
        for event in events:
            envelope = event["payload"]
            assert envelope["id"] == event["id"] and envelope["id"].startswith("evt_")
            assert envelope["type"] == event["type"]
            assert envelope["merchantId"] == merchant.id
        assert events[-1]["payload"]["data"]["payment"] == payment, context

        # The workflow's own answer agrees.
        handle = pipeline.temporal.get_workflow_handle(
            payment_workflow_id(payment_id), result_type=PaymentOutcome
        )
        assert await handle.result() == PaymentOutcome(status, payment["failureReason"]), context
        assert (await handle.describe()).task_queue == pipeline.task_queue

        # The same events fanned out through SNS, with the contract's message attributes.
        fanned_out = await pipeline.delivered(ANALYTICS_QUEUE, {event["id"] for event in events})
        for event in events:
            delivered = fanned_out[event["id"]]
            assert delivered["body"] == event["payload"], context
            assert delivered["attributes"] == {"type": event["type"], "merchantId": merchant.id}

        # What the acquirer did.
        ledger = await pipeline.ledger(payment_id)
        assert await pipeline.open_holds(payment_id) == 0, (context, ledger)
        if instrument == TRANSIENT_CARD:  # two transient failures, then the approval
            assert await pipeline.authorize_attempts(payment_id) == 3, context
        if status == "completed":
            assert await pipeline.count(payment_id, Operation.AUTHORIZE, Outcome.APPROVED) == 1
            assert await pipeline.count(payment_id, Operation.CAPTURE, Outcome.APPROVED) == 1
            assert ledger == [(AUTHORIZE, APPROVED), (CAPTURE, APPROVED)], context
        elif instrument == CAPTURE_FAILS_CARD:
            assert ledger == [
                (AUTHORIZE, APPROVED),
                (CAPTURE, Outcome.FAILED.value),
                (VOID, APPROVED),
            ], context
        elif instrument == TIMEOUT_CARD:
            # The acquirer held the amount though its answers never arrived: one hold, voided.
            assert ledger == [(AUTHORIZE, APPROVED), (VOID, APPROVED)], context
        else:
            assert ledger == [(AUTHORIZE, Outcome.DECLINED.value)], context
            assert await pipeline.count(payment_id, Operation.AUTHORIZE, Outcome.APPROVED) == 0
