"""The services' own images as Lambda container images: each run as Lambda runs one (read-only
root, the image's user, its entrypoint replaced by `python -m awslambdaric` and its command by
the handler, as deploy/aws/template.yaml's ImageConfig says), polling a Runtime API of the
test's, carries a payment to its delivered webhook (tests/deploy/journey.py)."""

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from payments_devstack.containers.engine import Engine
from payments_devstack.containers.images import DEFAULT_TAG
from payments_devstack.moto_server import MotoServer
from tests.deploy.journey import (
    Functions,
    carry_a_payment_through,
    report_cold_starts,
    started_functions,
)
from tests.deploy.packaged import PackagedFunction, lambda_variables, running_runtime
from tests.e2e.support import Pipeline

# The images are built on first use (minutes), when this module runs on its own.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

# deploy/aws/template.yaml's ImageConfig.EntryPoint.
RUNTIME_CLIENT = ["python", "-m", "awslambdaric"]
COLD_START_REPORT = Path("build/test-artifacts/lambda-image-cold-start.json")


def running_image(
    engine: Engine,
    image: str,
    name: str,
    handler: str,
    environment: dict[str, str],
    log: Path,
) -> AbstractContextManager[PackagedFunction]:
    container = f"payments-lambda-{name}-{uuid.uuid4().hex[:8]}"

    def launch(runtime_api: str) -> tuple[list[str], dict[str, str]]:
        variables = {**lambda_variables(name, handler, runtime_api), **environment}
        command = [engine.name, "run", "--rm", "--name", container, "--network=host"]
        # Lambda's own container: nothing writable but /tmp (podman mounts a tmpfs there).
        command += ["--read-only", "--entrypoint", json.dumps(RUNTIME_CLIENT)]
        for variable, value in variables.items():
            command += ["--env", f"{variable}={value}"]
        return [*command, image, handler], dict(engine.env)

    def stop() -> None:
        engine.run("rm", "--force", container, check=False)

    return running_runtime(name, launch, log, stop=stop)


@pytest.fixture
def image_functions(
    engine: Engine,
    built_images: dict[str, int],
    function_environments: dict[str, dict[str, str]],
    tmp_path: Path,
) -> Iterator[Functions]:
    def start(name: str, service: str, handler: str) -> AbstractContextManager[PackagedFunction]:
        image = f"{service}:{DEFAULT_TAG}"
        assert image in built_images
        environment, log = function_environments[name], tmp_path / f"{name}.log"
        return running_image(engine, image, name, handler, environment, log)

    with started_functions(start) as functions:
        yield functions


async def test_the_images_carry_a_payment_to_its_delivered_webhook(
    lambda_pipeline: Pipeline, image_functions: Functions, moto_server: MotoServer
) -> None:
    await carry_a_payment_through(lambda_pipeline, image_functions, moto_server.endpoint_url)
    await asyncio.to_thread(report_cold_starts, image_functions, COLD_START_REPORT)
