"""The packaged zips, run as Lambda runs them, carry a payment to its delivered webhook
(tests/deploy/journey.py), each unzipped into an empty task root of its own."""

import asyncio
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from payments_devstack.moto_server import MotoServer
from tests.deploy.conftest import LambdaZips
from tests.deploy.journey import (
    Functions,
    carry_a_payment_through,
    report_cold_starts,
    started_functions,
)
from tests.deploy.packaged import PackagedFunction, running_zip, unzip
from tests.e2e.support import Pipeline

COLD_START_REPORT = Path("build/test-artifacts/lambda-cold-start.json")


@pytest.fixture
def zipped_functions(
    lambda_zips: LambdaZips,
    lambda_runtime_root: Path,
    function_environments: dict[str, dict[str, str]],
    tmp_path: Path,
) -> Iterator[Functions]:
    def start(name: str, service: str, handler: str) -> AbstractContextManager[PackagedFunction]:
        root = unzip(lambda_zips.path(service), tmp_path / f"{name}-task")
        environment, log = function_environments[name], tmp_path / f"{name}.log"
        return running_zip(name, handler, root, lambda_runtime_root, environment, log)

    with started_functions(start) as functions:
        yield functions


async def test_the_zips_carry_a_payment_to_its_delivered_webhook(
    lambda_pipeline: Pipeline,
    zipped_functions: Functions,
    moto_server: MotoServer,
) -> None:
    await carry_a_payment_through(lambda_pipeline, zipped_functions, moto_server.endpoint_url)
    await asyncio.to_thread(report_cold_starts, zipped_functions, COLD_START_REPORT)
