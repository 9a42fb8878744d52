"""AWS sessions and clients from settings: the emulator locally, real AWS when the URL is empty.

aioboto3 ships no type information, so clients are `Any`; the boto3-stubs shapes document the
calls we make.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aioboto3
from botocore.config import Config

from payments_core.aws.errors import aws_errors
from payments_core.settings import ServiceSettings

AwsClient = Any

# Fail fast on a dead endpoint: callers (the outbox relay, readiness checks) have their own
# retry loops, and a hung connect would hold the outbox row locks for botocore's default 60 s.
DEFAULT_CLIENT_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"max_attempts": 3, "mode": "standard"},
)


def create_session(settings: ServiceSettings) -> aioboto3.Session:
    """Credentials come from the standard chain (env, IRSA web identity, instance profile)."""
    return aioboto3.Session(region_name=settings.aws_region)


def client_kwargs(settings: ServiceSettings, *, config: Config | None = None) -> dict[str, Any]:
    """Arguments for `session.client(service, **kwargs)`; no endpoint_url means real AWS."""
    kwargs: dict[str, Any] = {
        "region_name": settings.aws_region,
        "config": config or DEFAULT_CLIENT_CONFIG,
    }
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
    return kwargs


@dataclass(frozen=True)
class AwsContext:
    """A session plus the client arguments every client of this process shares."""

    session: aioboto3.Session
    region: str
    client_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "AwsContext":
        return cls(create_session(settings), settings.aws_region, client_kwargs(settings))

    @classmethod
    def from_session(cls, session: aioboto3.Session) -> "AwsContext":
        # botocore itself honours AWS_ENDPOINT_URL when no endpoint is passed.
        region = session.region_name or "us-east-1"
        return cls(session, region, {"region_name": region, "config": DEFAULT_CLIENT_CONFIG})

    @asynccontextmanager
    async def client(self, service: str) -> AsyncIterator[AwsClient]:
        async with self.session.client(service, **self.client_options) as client:
            yield client


def as_aws_context(target: "ServiceSettings | aioboto3.Session | AwsContext") -> AwsContext:
    if isinstance(target, AwsContext):
        return target
    if isinstance(target, ServiceSettings):
        return AwsContext.from_settings(target)
    return AwsContext.from_session(target)


def is_arn(value: str) -> bool:
    return value.startswith("arn:")


def topic_arn(*, partition: str, region: str, account_id: str, topic_name: str) -> str:
    return f"arn:{partition}:sns:{region}:{account_id}:{topic_name}"


async def resolve_topic_arn(
    sts_client_or_session: AwsClient | aioboto3.Session, settings: ServiceSettings
) -> str:
    """PAYMENT_EVENTS_TOPIC as an ARN: used as is when it is one, else built for our account.

    GetCallerIdentity needs no IAM permission, and its ARN also tells the partition (aws-cn,
    aws-us-gov), so this works for any credentials without a CreateTopic or ListTopics grant.
    """
    if is_arn(settings.payment_events_topic):
        return settings.payment_events_topic
    if isinstance(sts_client_or_session, aioboto3.Session):
        async with sts_client_or_session.client("sts", **client_kwargs(settings)) as sts:
            return await own_topic_arn(sts, settings.aws_region, settings.payment_events_topic)
    return await own_topic_arn(
        sts_client_or_session, settings.aws_region, settings.payment_events_topic
    )


async def own_topic_arn(sts: AwsClient, region: str, topic_name: str) -> str:
    """The ARN a topic of this name has (or would have) in the caller's account."""
    with aws_errors("sts:GetCallerIdentity"):
        identity = await sts.get_caller_identity()
    return topic_arn(
        partition=str(identity["Arn"]).split(":")[1],
        region=region,
        account_id=str(identity["Account"]),
        topic_name=topic_name,
    )


def topic_name_of(topic: str) -> str:
    """`payment-events` from either the bare name or its ARN."""
    return topic.rsplit(":", 1)[-1] if is_arn(topic) else topic
