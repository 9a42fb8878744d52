"""The packaged zips run as Lambda runs them: unzipped into an empty task root, imported by a
clean Python of the runtime's version (`-I -S`: no site-packages, no environment paths) whose
only other path is the runtime's own bootstrap, `awslambdaric`, polling a local Runtime API.
"""

import importlib.metadata
import platform
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.deploy.runtime_api import InvocationFailed, RuntimeApi

# Lambda's Python runtime keeps its bootstrap in /var/runtime: awslambdaric and what it needs.
RUNTIME_DISTRIBUTIONS = ("awslambdaric", "simplejson", "snapshot-restore-py")
# What Lambda's Python runs: the task root first, then the runtime, then the standard library.
BOOTSTRAP = (
    "import sys; sys.path[:0] = [sys.argv.pop(1), sys.argv.pop(1)]; "
    "from awslambdaric.__main__ import main; main(sys.argv)"
)
STOP_TIMEOUT_SECONDS = 10.0


def host_architecture() -> str:
    """Lambda's name for this machine's CPU: the zip this machine can run."""
    return {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]


def clean_python() -> str:
    """The interpreter behind the test's virtual environment: the runtime's Python version,
    with none of the environment's packages once started with -I -S."""
    return getattr(sys, "_base_executable", sys.executable)


def install_runtime(directory: Path) -> Path:
    """Copy the runtime interface client's files out of the test environment."""
    for name in RUNTIME_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or []:
            source = Path(str(distribution.locate_file(file)))
            if "__pycache__" in file.parts or not source.is_file() or ".." in file.parts:
                continue
            target = directory / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return directory


def unzip(archive: Path, directory: Path) -> Path:
    directory.mkdir(parents=True)
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(directory)
    return directory


@dataclass
class PackagedFunction:
    name: str
    api: RuntimeApi
    process: subprocess.Popen[bytes]
    log: Path
    started: float

    def invoke(self, event: Any, *, timeout_seconds: float = 60.0) -> Any:
        try:
            return self.api.invoke(
                event, timeout_seconds=timeout_seconds, alive=lambda: self.process.poll() is None
            )
        except (InvocationFailed, TimeoutError) as error:
            raise AssertionError(f"{error}; its output:\n{self.output()}") from None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    @property
    def init_seconds(self) -> float | None:
        """Process start to the runtime's first poll: the handler's module imported."""
        first = self.api.timings.first_poll
        return None if first is None else first - self.started

    @property
    def first_invocation_seconds(self) -> float | None:
        """The first event handed over to its answer: imports done at first use, connections
        opened, the batch handled."""
        timings = self.api.timings
        if timings.first_handed is None or timings.first_response is None:
            return None
        return timings.first_response - timings.first_handed


# Starts one runtime given the Runtime API's address: the command, and its process environment.
Launcher = Callable[[str], tuple[list[str], dict[str, str]]]


def lambda_variables(name: str, handler: str, runtime_api: str) -> dict[str, str]:
    """What Lambda sets in every function's environment (those a handler may read)."""
    return {
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": handler,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    }


@contextmanager
def running_runtime(
    name: str,
    launch: Launcher,
    log: Path,
    *,
    cwd: Path | None = None,
    stop: Callable[[], None] | None = None,
) -> Iterator[PackagedFunction]:
    """One Lambda execution environment, polling a Runtime API of its own until the block ends;
    `stop` ends what the process alone would not (a container, say)."""
    with RuntimeApi(name) as api:
        command, env = launch(api.address)
        with log.open("wb") as output:
            started = time.monotonic()
            process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        try:
            yield PackagedFunction(name, api, process, log, started)
        finally:
            if stop is not None:
                stop()
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def running_zip(
    name: str,
    handler: str,
    task_root: Path,
    runtime_root: Path,
    environment: Mapping[str, str],
    log: Path,
) -> AbstractContextManager[PackagedFunction]:
    """An unzipped zip under a clean Python with only the runtime's bootstrap beside it."""

    def launch(runtime_api: str) -> tuple[list[str], dict[str, str]]:
        command = [clean_python(), "-I", "-S", "-c", BOOTSTRAP, str(task_root)]
        env = {
            "PATH": "/usr/bin:/bin",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(runtime_root),
            **lambda_variables(name, handler, runtime_api),
            **environment,
        }
        return [*command, str(runtime_root), handler], env

    # Lambda's Python starts in the task root (/var/task).
    return running_runtime(name, launch, log, cwd=task_root)
