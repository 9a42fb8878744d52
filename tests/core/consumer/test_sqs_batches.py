"""Visibility renewals against real moto: a record deleted meanwhile is not worth a warning."""

from collections.abc import Callable

import pytest

from payments_core.aws.clients import AwsClient
from payments_core.aws.provisioning import ProvisionedResources
from payments_core.aws.topology import PROCESSING_QUEUE
from payments_core.consumer.records import SqsRecord
from payments_core.consumer.sqs_batches import change_visibility, delete_batch
from tests.core.consumer.support import EventLog, payment_initiated, send


async def _received_then_deleted(sqs: AwsClient, queue_url: str) -> SqsRecord:
    await send(sqs, queue_url, payment_initiated("pay_deleted"))
    response = await sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1, MessageAttributeNames=["All"]
    )
    record = SqsRecord.from_boto3(response["Messages"][0])
    assert await delete_batch(sqs, queue_url, [record]) == 1
    return record


def _answers(*answers: bool) -> Callable[[SqsRecord], bool]:
    """A `still_held` that answers in turn: held when the chunk is sent, then perhaps not."""
    remaining = list(answers)
    return lambda record: remaining.pop(0)


def _visibility_failures(logs: EventLog) -> list[str]:
    return [entry["error"] for entry in logs if entry["event"] == "consumer.visibility_failed"]


@pytest.mark.parametrize(
    ("answers", "logged"),
    [
        # Deleted while the renewal was in flight: SQS refuses it, and that is expected.
        pytest.param((True, False), [], id="deleted-in-flight"),
        # Deleted before its chunk: left out (a second answer is asked only after a failure).
        pytest.param((False,), [], id="deleted-before-the-chunk"),
        # Still held, yet refused: a real failure, logged.
        pytest.param((True, True), ["ReceiptHandleIsInvalid"], id="still-held"),
    ],
)
async def test_a_renewal_refused_for_a_deleted_record_is_logged_only_if_still_held(
    topology: ProvisionedResources,
    sqs: AwsClient,
    logs: EventLog,
    answers: tuple[bool, ...],
    logged: list[str],
) -> None:
    queue_url = topology.queues[PROCESSING_QUEUE].url
    record = await _received_then_deleted(sqs, queue_url)

    renewed = await change_visibility(sqs, queue_url, [record], 30, still_held=_answers(*answers))

    assert renewed == 0
    assert _visibility_failures(logs) == logged
