"""Idempotent provisioning of the topic, queues, DLQs and subscriptions (CONTRACT.md §2).

Read first, then create what is missing and set only the attributes that differ, so a second run
changes nothing, and the same code serves real AWS (a Kubernetes Job) and moto (`make up`).
"""

import asyncio
from dataclasses import dataclass, field

import aioboto3
from botocore.exceptions import ClientError

from payments_core.aws import desired_attributes as desired
from payments_core.aws.clients import AwsClient, AwsContext, as_aws_context, own_topic_arn
from payments_core.aws.clients import topic_name_of as bare_topic_name
from payments_core.aws.errors import aws_error_code, aws_errors
from payments_core.aws.topology import (
    DEFAULT_MAX_RECEIVE_COUNT,
    QUEUES,
    TOPIC_NAME,
    QueueSpec,
    dead_letter_queue_name,
)
from payments_core.settings import ServiceSettings

QUEUE_MISSING_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
TOPIC_MISSING_CODES = frozenset({"NotFound", "NotFoundException"})
PENDING_CONFIRMATION = "PendingConfirmation"


@dataclass(frozen=True)
class ProvisionedQueue:
    name: str
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str
    subscription_arn: str


@dataclass(frozen=True)
class ProvisionedResources:
    """What exists after provisioning; `changes` is empty when nothing had to be done."""

    topic_arn: str
    queues: dict[str, ProvisionedQueue]
    changes: tuple[str, ...] = ()

    @property
    def queue_urls(self) -> dict[str, str]:
        """Every queue and DLQ URL by queue name."""
        urls = {name: queue.url for name, queue in self.queues.items()}
        urls.update(
            {dead_letter_queue_name(name): queue.dlq_url for name, queue in self.queues.items()}
        )
        return urls

    @property
    def queue_arns(self) -> dict[str, str]:
        arns = {name: queue.arn for name, queue in self.queues.items()}
        arns.update(
            {dead_letter_queue_name(name): queue.dlq_arn for name, queue in self.queues.items()}
        )
        return arns


@dataclass
class _Changes:
    entries: list[str] = field(default_factory=list)

    def note(self, change: str) -> None:
        self.entries.append(change)


async def provision(
    session_or_settings: ServiceSettings | aioboto3.Session | AwsContext,
    *,
    topic_name: str | None = None,
    retention_seconds: dict[str, int] | None = None,
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
    queues: tuple[QueueSpec, ...] = QUEUES,
) -> ProvisionedResources:
    """Make the topology exist as described; `retention_seconds` is by queue name (its DLQ too).

    The topic is `topic_name`, else PAYMENT_EVENTS_TOPIC when given settings, else the contract's.
    """
    if topic_name is None:
        topic_name = (
            session_or_settings.payment_events_topic
            if isinstance(session_or_settings, ServiceSettings)
            else TOPIC_NAME
        )
    aws = as_aws_context(session_or_settings)
    retention = retention_seconds or {}
    changes = _Changes()
    async with aws.client("sns") as sns, aws.client("sqs") as sqs, aws.client("sts") as sts:
        with aws_errors("provision"):
            topic_arn = await _ensure_topic(
                sns, sts, aws.region, bare_topic_name(topic_name), changes
            )
            subscriptions = await _sqs_subscriptions(sns, topic_arn)
            outcomes = await asyncio.gather(
                *(
                    _ensure_subscribed_queue(
                        sns,
                        sqs,
                        spec,
                        topic_arn=topic_arn,
                        subscriptions=subscriptions,
                        retention_seconds=retention.get(spec.name),
                        max_receive_count=max_receive_count,
                        changes=changes,
                    )
                    for spec in queues
                ),
                # Let every queue finish before raising: a sibling left running would outlive
                # the clients it uses.
                return_exceptions=True,
            )
            provisioned = [_raise_failure(outcome) for outcome in outcomes]
    return ProvisionedResources(
        topic_arn=topic_arn,
        queues={queue.name: queue for queue in provisioned},
        changes=tuple(sorted(changes.entries)),
    )


def _raise_failure(outcome: "ProvisionedQueue | BaseException") -> ProvisionedQueue:
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


async def _ensure_topic(
    sns: AwsClient, sts: AwsClient, region: str, name: str, changes: _Changes
) -> str:
    # CreateTopic alone is idempotent, but probing first lets us report whether anything changed.
    arn = await own_topic_arn(sts, region, name)
    try:
        await sns.get_topic_attributes(TopicArn=arn)
        return arn
    except ClientError as error:
        if aws_error_code(error) not in TOPIC_MISSING_CODES:
            raise
    created: str = (await sns.create_topic(Name=name))["TopicArn"]
    changes.note(f"created topic {name}")
    return created


async def _sqs_subscriptions(sns: AwsClient, topic_arn: str) -> dict[str, str]:
    """Subscription ARN by queue ARN for the topic's existing SQS subscriptions."""
    found: dict[str, str] = {}
    paginator = sns.get_paginator("list_subscriptions_by_topic")
    async for page in paginator.paginate(TopicArn=topic_arn):
        for subscription in page.get("Subscriptions", []):
            if subscription["Protocol"] == "sqs":
                found[subscription["Endpoint"]] = subscription["SubscriptionArn"]
    return found


async def _ensure_subscribed_queue(
    sns: AwsClient,
    sqs: AwsClient,
    spec: QueueSpec,
    *,
    topic_arn: str,
    subscriptions: dict[str, str],
    retention_seconds: int | None,
    max_receive_count: int,
    changes: _Changes,
) -> ProvisionedQueue:
    dlq_url, dlq_attributes = await _ensure_queue(sqs, spec.dlq_name, changes)
    await _reconcile_queue(
        sqs,
        spec.dlq_name,
        dlq_url,
        dlq_attributes,
        desired.dead_letter_queue_attributes(retention_seconds),
        changes,
    )
    url, attributes = await _ensure_queue(sqs, spec.name, changes)
    wanted = desired.source_queue_attributes(
        attributes,
        topic_arn=topic_arn,
        dlq_arn=dlq_attributes["QueueArn"],
        max_receive_count=max_receive_count,
        retention_seconds=retention_seconds,
    )
    await _reconcile_queue(sqs, spec.name, url, attributes, wanted, changes)
    subscription_arn = await _ensure_subscription(
        sns,
        spec,
        topic_arn,
        attributes["QueueArn"],
        subscriptions.get(attributes["QueueArn"]),
        changes,
    )
    return ProvisionedQueue(
        name=spec.name,
        url=url,
        arn=attributes["QueueArn"],
        dlq_url=dlq_url,
        dlq_arn=dlq_attributes["QueueArn"],
        subscription_arn=subscription_arn,
    )


async def _ensure_queue(sqs: AwsClient, name: str, changes: _Changes) -> tuple[str, dict[str, str]]:
    """The queue's URL and current attributes, creating it (with defaults) when missing."""
    try:
        url: str = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
    except ClientError as error:
        if aws_error_code(error) not in QUEUE_MISSING_CODES:
            raise
        # Without attributes CreateQueue returns the existing queue, so a concurrent
        # provisioner creating the same queue is not an error.
        url = (await sqs.create_queue(QueueName=name))["QueueUrl"]
        changes.note(f"created queue {name}")
    response = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    return url, dict(response["Attributes"])


async def _reconcile_queue(
    sqs: AwsClient,
    name: str,
    url: str,
    current: dict[str, str],
    wanted: dict[str, str],
    changes: _Changes,
) -> None:
    updates = desired.differing(current, wanted)
    if updates:
        await sqs.set_queue_attributes(QueueUrl=url, Attributes=updates)
        changes.note(f"set {', '.join(sorted(updates))} on queue {name}")


async def _ensure_subscription(
    sns: AwsClient,
    spec: QueueSpec,
    topic_arn: str,
    queue_arn: str,
    existing_arn: str | None,
    changes: _Changes,
) -> str:
    wanted = desired.subscription_attributes(spec)
    if existing_arn is None or existing_arn == PENDING_CONFIRMATION:
        response = await sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes=wanted,
            ReturnSubscriptionArn=True,
        )
        changes.note(f"subscribed queue {spec.name}")
        return str(response["SubscriptionArn"])
    current = (await sns.get_subscription_attributes(SubscriptionArn=existing_arn))["Attributes"]
    # SetSubscriptionAttributes takes one attribute per call.
    for name, value in desired.differing(current, wanted).items():
        await sns.set_subscription_attributes(
            SubscriptionArn=existing_arn, AttributeName=name, AttributeValue=value
        )
        changes.note(f"set {name} on subscription of {spec.name}")
    return existing_arn
