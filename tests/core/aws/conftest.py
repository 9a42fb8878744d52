"""Fixtures for the SNS/SQS tests: a freshly reset moto server with the topology provisioned."""

from collections.abc import AsyncIterator

import pytest

from payments_core.aws.clients import AwsClient, AwsContext
from payments_core.aws.provisioning import ProvisionedResources, provision
from payments_core.settings import CoreSettings
from payments_devstack.moto_server import MotoServer


@pytest.fixture
def aws_settings(moto_endpoint: str) -> CoreSettings:
    return CoreSettings(
        database_url="postgresql://unused@localhost/unused",
        aws_endpoint_url=moto_endpoint,
        aws_region="us-east-1",
    )


@pytest.fixture
def aws(aws_settings: CoreSettings) -> AwsContext:
    return AwsContext.from_settings(aws_settings)


@pytest.fixture
async def topology(moto_server: MotoServer, aws: AwsContext) -> ProvisionedResources:
    """An empty emulator with only our topology in it, so no test sees another's messages."""
    moto_server.reset()
    return await provision(aws)


@pytest.fixture
async def sns(aws: AwsContext) -> AsyncIterator[AwsClient]:
    async with aws.client("sns") as client:
        yield client


@pytest.fixture
async def sqs(aws: AwsContext) -> AsyncIterator[AwsClient]:
    async with aws.client("sqs") as client:
        yield client
