"""Real moto with only our topology in it; DLQ after two receives so redrive tests are quick."""

from collections.abc import AsyncIterator, Iterator

import pytest

from payments_core.aws.clients import AwsClient, AwsContext
from payments_core.aws.provisioning import ProvisionedResources, provision
from payments_core.settings import CoreSettings
from payments_devstack.moto_server import MotoServer
from tests.core.consumer.support import EventLog, captured_logs

MAX_RECEIVE_COUNT = 2


@pytest.fixture
def aws(moto_endpoint: str) -> AwsContext:
    return AwsContext.from_settings(
        CoreSettings(
            database_url="postgresql://unused@localhost/unused",
            aws_endpoint_url=moto_endpoint,
            aws_region="us-east-1",
        )
    )


@pytest.fixture
async def topology(moto_server: MotoServer, aws: AwsContext) -> ProvisionedResources:
    moto_server.reset()
    return await provision(aws, max_receive_count=MAX_RECEIVE_COUNT)


@pytest.fixture
async def sqs(aws: AwsContext) -> AsyncIterator[AwsClient]:
    async with aws.client("sqs") as client:
        yield client


@pytest.fixture(autouse=True)
def logs() -> Iterator[EventLog]:
    """Every test logs into a capture, with logger caching off (see `captured_logs`)."""
    with captured_logs() as entries:
        yield entries
