"""Provisioning against a real moto server: idempotence, routing by type, raw delivery, DLQs."""

import json
import uuid

import pytest

from payments_core.aws.clients import AwsClient, AwsContext, resolve_topic_arn
from payments_core.aws.errors import AwsUnavailable
from payments_core.aws.provisioning import ProvisionedResources, provision
from payments_core.aws.topology import (
    ANALYTICS_QUEUE,
    NOTIFICATION_QUEUE,
    PROCESSING_QUEUE,
    QUEUES,
    WEBHOOK_QUEUE,
    dead_letter_queue_name,
)
from payments_core.events.envelope import Event, EventType
from payments_core.settings import CoreSettings

EVERY_QUEUE = (PROCESSING_QUEUE, WEBHOOK_QUEUE, ANALYTICS_QUEUE, NOTIFICATION_QUEUE)


async def publish_event(sns: AwsClient, topic_arn: str, event_type: EventType) -> str:
    envelope = Event.new(event_type, uuid.uuid4(), {"payment": {"id": "p1"}}).envelope()
    body = json.dumps(envelope, separators=(",", ":"))
    await sns.publish(
        TopicArn=topic_arn,
        Message=body,
        MessageAttributes={
            "type": {"DataType": "String", "StringValue": event_type.value},
            "merchantId": {"DataType": "String", "StringValue": envelope["merchantId"]},
        },
    )
    return body


async def receive_bodies(sqs: AwsClient, queue_url: str) -> list[str]:
    response = await sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [message["Body"] for message in response.get("Messages", [])]


async def test_second_run_changes_nothing(topology: ProvisionedResources, aws: AwsContext) -> None:
    again = await provision(aws)

    assert topology.changes, "the first run on an empty emulator creates everything"
    assert again.changes == ()
    assert again.topic_arn == topology.topic_arn
    assert again.queue_urls == topology.queue_urls
    assert set(again.queue_urls) == {
        name for queue in QUEUES for name in (queue.name, dead_letter_queue_name(queue.name))
    }


async def test_initiated_reaches_every_queue_and_completed_skips_processing(
    topology: ProvisionedResources, sns: AwsClient, sqs: AwsClient
) -> None:
    initiated = await publish_event(sns, topology.topic_arn, EventType.PAYMENT_INITIATED)
    completed = await publish_event(sns, topology.topic_arn, EventType.PAYMENT_COMPLETED)

    received = {name: await receive_bodies(sqs, topology.queue_urls[name]) for name in EVERY_QUEUE}

    assert received[PROCESSING_QUEUE] == [initiated]
    for name in (WEBHOOK_QUEUE, ANALYTICS_QUEUE, NOTIFICATION_QUEUE):
        assert sorted(received[name]) == sorted([initiated, completed])


async def test_delivery_is_raw_with_attributes(
    topology: ProvisionedResources, sns: AwsClient, sqs: AwsClient
) -> None:
    body = await publish_event(sns, topology.topic_arn, EventType.REFUND_CREATED)

    response = await sqs.receive_message(
        QueueUrl=topology.queue_urls[PROCESSING_QUEUE], MessageAttributeNames=["All"]
    )
    (message,) = response["Messages"]

    assert message["Body"] == body  # the envelope itself, not an SNS notification wrapper
    assert "TopicArn" not in json.loads(message["Body"])
    assert message["MessageAttributes"]["type"]["StringValue"] == "refund.created"


async def test_message_moves_to_dlq_after_max_receive_count(
    topology: ProvisionedResources, sns: AwsClient, sqs: AwsClient
) -> None:
    body = await publish_event(sns, topology.topic_arn, EventType.PAYMENT_FAILED)
    queue_url = topology.queue_urls[WEBHOOK_QUEUE]

    receives = 0
    while (await sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0)).get("Messages"):
        receives += 1
        assert receives <= 5, "redrive did not happen after maxReceiveCount"

    dead = await receive_bodies(sqs, topology.queue_urls[dead_letter_queue_name(WEBHOOK_QUEUE)])
    assert receives == 5
    assert dead == [body]


async def test_differing_attributes_are_set_back(
    topology: ProvisionedResources, aws: AwsContext, sns: AwsClient, sqs: AwsClient
) -> None:
    webhook = topology.queues[WEBHOOK_QUEUE]
    await sqs.set_queue_attributes(
        QueueUrl=webhook.url, Attributes={"MessageRetentionPeriod": "7200"}
    )
    await sns.set_subscription_attributes(
        SubscriptionArn=webhook.subscription_arn,
        AttributeName="FilterPolicy",
        AttributeValue=json.dumps({"type": ["payment.completed"]}),
    )

    repaired = await provision(aws, retention_seconds={WEBHOOK_QUEUE: 600})

    attributes = await sqs.get_queue_attributes(QueueUrl=webhook.url, AttributeNames=["All"])
    subscription = await sns.get_subscription_attributes(SubscriptionArn=webhook.subscription_arn)
    assert attributes["Attributes"]["MessageRetentionPeriod"] == "600"
    assert len(json.loads(subscription["Attributes"]["FilterPolicy"])["type"]) == len(EventType)
    assert any("FilterPolicy" in change for change in repaired.changes)
    assert (await provision(aws, retention_seconds={WEBHOOK_QUEUE: 600})).changes == ()


async def test_topic_arn_is_built_from_a_name_or_taken_as_given(
    topology: ProvisionedResources, aws: AwsContext, aws_settings: CoreSettings
) -> None:
    assert await resolve_topic_arn(aws.session, aws_settings) == topology.topic_arn

    given = "arn:aws:sns:eu-west-1:111122223333:payment-events"
    with_arn = aws_settings.model_copy(update={"payment_events_topic": given})
    async with aws.client("sts") as sts:
        assert await resolve_topic_arn(sts, with_arn) == given


async def test_unreachable_endpoint_raises_aws_unavailable(aws_settings: CoreSettings) -> None:
    closed = aws_settings.model_copy(update={"aws_endpoint_url": "http://127.0.0.1:9"})

    with pytest.raises(AwsUnavailable):
        await provision(closed)
