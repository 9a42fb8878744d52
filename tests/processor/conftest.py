"""The processor against real moto and a real Temporal dev server, with no worker polling.

Workflows are started on a task queue no worker listens to, so they stay Running and a test can
describe them; the workflow code itself is not needed (they are started by name).
"""

import uuid

import pytest
from temporalio.client import Client

from tests.core.consumer.conftest import aws, logs, sqs, topology  # noqa: F401 - fixtures

UNUSED_DATABASE_URL = "postgresql://unused@localhost/unused"


@pytest.fixture
async def temporal(temporal_address: str) -> Client:
    # temporalio clients have no close(): the connection goes with the object (and the
    # runtime's threads at interpreter exit).
    return await Client.connect(temporal_address)


@pytest.fixture
def task_queue() -> str:
    return f"processor-test-{uuid.uuid4().hex}"
