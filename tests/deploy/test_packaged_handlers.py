"""The packaged zips, run as Lambda runs them, carry a payment to its delivered webhook
(tests/deploy/journey.py), each unzipped into an empty task root of its own."""

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from payments_devstack.moto_server import MotoServer
from tests.deploy.conftest import LambdaZips
from tests.deploy.journey import (
    FUNCTION_HANDLERS,
    PROCESSOR,
    RETRIES,
    SENDER,
    Functions,
    carry_a_payment_through,
)
from tests.deploy.packaged import running_zip, unzip
from tests.e2e.support import Pipeline

COLD_START_REPORT = Path("build/test-artifacts/lambda-cold-start.json")


@pytest.fixture
def zipped_functions(
    lambda_zips: LambdaZips,
    lambda_runtime_root: Path,
    function_environments: dict[str, dict[str, str]],
    tmp_path: Path,
) -> Iterator[Functions]:
    with ExitStack() as stack:
        started = {}
        for name, (service, handler) in FUNCTION_HANDLERS.items():
            root = unzip(lambda_zips.path(service), tmp_path / f"{name}-task")
            started[name] = stack.enter_context(
                running_zip(
                    name,
                    handler,
                    root,
                    lambda_runtime_root,
                    function_environments[name],
                    tmp_path / f"{name}.log",
                )
            )
        yield Functions(started[PROCESSOR], started[SENDER], started[RETRIES])


def report_cold_starts(functions: Functions) -> None:
    """Each function's cold start, measured here (README "Run on AWS Lambda" quotes it); with
    -s it is printed too. Not asserted: tests never assert on wall time."""
    report = {
        name: {
            "import_seconds": function.init_seconds,
            "first_invocation_seconds": function.first_invocation_seconds,
        }
        for name, function in (("processor", functions.processor), ("sender", functions.sender))
    }
    COLD_START_REPORT.parent.mkdir(parents=True, exist_ok=True)
    COLD_START_REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"cold starts: {report}")  # noqa: T201


async def test_the_zips_carry_a_payment_to_its_delivered_webhook(
    lambda_pipeline: Pipeline,
    zipped_functions: Functions,
    moto_server: MotoServer,
) -> None:
    await carry_a_payment_through(lambda_pipeline, zipped_functions, moto_server.endpoint_url)
    await asyncio.to_thread(report_cold_starts, zipped_functions)
