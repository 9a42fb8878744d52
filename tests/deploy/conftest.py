"""The packaged Lambda zips (built once per session for this machine's CPU) and the runtime's
bootstrap they run under. TEST_LAMBDA_ZIPS=build/lambda tests the zips `make lambda-package`
left there instead of building them again."""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from payments_devstack.containers.engine import REPO
from payments_devstack.lambda_package.build import Packaged, build, read_manifest
from payments_devstack.lambda_package.functions import FUNCTIONS
from tests.deploy.journey import function_environments, lambda_pipeline  # noqa: F401 - fixtures
from tests.deploy.packaged import host_architecture, install_runtime
from tests.e2e.conftest import e2e_sessions  # noqa: F401 - the journey's assertions


@dataclass(frozen=True)
class LambdaZips:
    directory: Path
    built: dict[str, Packaged]  # by function name

    def path(self, function: str) -> Path:
        return self.directory / self.built[function].zip


@pytest.fixture(scope="session")
def lambda_zips(tmp_path_factory: pytest.TempPathFactory) -> LambdaZips:
    """`make lambda-package` for this machine's CPU, into a directory of the session's."""
    built = os.environ.get("TEST_LAMBDA_ZIPS")
    if built:
        directory = Path(built)
        mine = [
            item for item in read_manifest(directory) if item.architecture == host_architecture()
        ]
        return LambdaZips(directory, {item.function: item for item in mine})
    directory = tmp_path_factory.mktemp("lambda-zips")
    packaged = build(REPO, FUNCTIONS, [host_architecture()], directory, progress=lambda _: None)
    return LambdaZips(directory, {item.function: item for item in packaged})


@pytest.fixture(scope="session")
def lambda_runtime_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_runtime(tmp_path_factory.mktemp("var-runtime"))
