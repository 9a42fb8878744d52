"""Visibility renewals against real moto: a record deleted meanwhile is not worth a warning."""

from collections.abc import Callable

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


async def test_a_record_deleted_while_its_renewal_is_in_flight_is_not_a_failure(
    topology: ProvisionedResources, sqs: AwsClient, logs: EventLog
) -> None:
    queue_url = topology.queues[PROCESSING_QUEUE].url
    record = await _received_then_deleted(sqs, queue_url)

    renewed = await change_visibility(
        sqs, queue_url, [record], 30, still_held=_answers(True, False)
    )

    assert renewed == 0
    assert _visibility_failures(logs) == []


async def test_a_record_deleted_before_its_chunk_is_left_out(
    topology: ProvisionedResources, sqs: AwsClient, logs: EventLog
) -> None:
    queue_url = topology.queues[PROCESSING_QUEUE].url
    record = await _received_then_deleted(sqs, queue_url)

    # A second answer would be asked only had the record been sent (and failed).
    renewed = await change_visibility(sqs, queue_url, [record], 30, still_held=_answers(False))

    assert renewed == 0
    assert _visibility_failures(logs) == []


async def test_a_renewal_that_fails_for_a_record_still_held_is_logged(
    topology: ProvisionedResources, sqs: AwsClient, logs: EventLog
) -> None:
    queue_url = topology.queues[PROCESSING_QUEUE].url
    record = await _received_then_deleted(sqs, queue_url)

    renewed = await change_visibility(sqs, queue_url, [record], 30, still_held=lambda _: True)

    assert renewed == 0
    assert _visibility_failures(logs) == ["ReceiptHandleIsInvalid"]
