"""The images built and the chart's pods played, once for the module that asks for them.

`make kube-play` itself runs, as a child process, on a scratch data directory and free ports
(each set through the variables `make up` honours), so a running `make up` is not disturbed.
Skipped, saying why, only where no container engine is found or can be installed.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from payments_devstack.containers.engine import Engine, find_engine
from payments_devstack.containers.images import DEFAULT_TAG, build, skaffold_images
from payments_devstack.errors import DevstackError
from payments_devstack.processes import find_free_ports

# The Lambda journey's fixtures (test_lambda_images.py), as tests/deploy has them.
from tests.deploy.journey import function_environments, lambda_pipeline  # noqa: F401
from tests.e2e.conftest import e2e_sessions  # noqa: F401
from tests.k8s.support import REPO

READY_LINE = "The payment platform is running"
START_TIMEOUT_SECONDS = 600.0
# This kind of machine reaches PyPI through a proxy that inspects TLS: the builds trust the
# host's bundle (opt-in, as BUILD_CA_BUNDLE; a laptop needs none).
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture(scope="session")
def engine() -> Engine:
    try:
        return find_engine(os.environ, required="podman")
    except DevstackError as error:
        pytest.skip(f"no container engine: {error}")


@pytest.fixture(scope="session")
def built_images(engine: Engine) -> dict[str, int]:
    """Every image of skaffold's files, rebuilt from this tree (unchanged layers are cached)."""
    env = dict(os.environ)
    if not env.get("BUILD_CA_BUNDLE") and HOST_CA_BUNDLE.is_file():
        env["BUILD_CA_BUNDLE"] = str(HOST_CA_BUNDLE)
    log = Path(tempfile.mkdtemp(prefix="payments-images-")) / "images.log"
    try:
        return build(engine, skaffold_images(), tag=DEFAULT_TAG, env=env, log_file=log)
    except DevstackError as error:
        tail = log.read_text()[-3000:] if log.exists() else ""
        pytest.fail(f"{error}\n{tail}")


@dataclass
class KubePlay:
    """A running `make kube-play`: its output so far, its ports and the demo's credentials."""

    process: subprocess.Popen[str]
    data: Path
    ports: dict[str, int]
    lines: list[str] = field(default_factory=list)
    summary: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['API_PORT']}/api/v1"

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r}; output:\n{self.output()[-4000:]}")


PORT_VARIABLES = (
    "API_PORT", "MOTO_PORT", "TEMPORAL_PORT", "TEMPORAL_UI_PORT", "POSTGRES_PORT",
    "WEBHOOK_RECEIVER_PORT", "WORKER_HEALTH_PORT", "PROCESSOR_HEALTH_PORT",
    "WEBHOOKS_HEALTH_PORT",
)  # fmt: skip


# Module-scoped: its pods stop when its tests end, not at the end of the whole suite.
@pytest.fixture(scope="module")
def kube_play(engine: Engine, built_images: dict[str, int]) -> Iterator[KubePlay]:
    data = Path(tempfile.mkdtemp(prefix="payments-kube-play-"))
    ports = dict(zip(PORT_VARIABLES, find_free_ports(len(PORT_VARIABLES)), strict=True))
    env = {**os.environ, **{name: str(port) for name, port in ports.items()}}
    # Retries a second apart, so a webhook missed while the sender restarts comes back quickly;
    # and room for the tests' polling, which shares the demo key's budget (100 a minute).
    env["WEBHOOK_RETRY_SCHEDULE"] = "1,1,1,1,1"
    env["RATE_LIMIT_PER_MINUTE"] = "100000"
    process = subprocess.Popen(
        [sys.executable, "-m", "payments_devstack.containers.kube_play", "up", "--data", str(data)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    play = KubePlay(process, data, ports)
    assert process.stdout is not None
    stdout = process.stdout

    def pump() -> None:
        for line in stdout:
            play.lines.append(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        play.wait_for_line(READY_LINE, START_TIMEOUT_SECONDS)
        for key in ("demo API key", "payment method", "admin token"):
            play.summary[key] = play.wait_for_line(rf"\|\s+{key}\s+(\S+)", 5)[1]
        yield play
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data, ignore_errors=True)
    # Ctrl-C stops everything: the process ends cleanly, and no pod or secret of it is left.
    assert process.returncode == 0, play.output()[-3000:]
    assert "stopping everything" in play.output()
    assert "payments-" not in engine.run("pod", "ps", "--format", "{{.Name}}").stdout
    secrets = engine.run("secret", "ls", "--format", "{{.Name}}").stdout.split()
    assert not {"payments", "payments-hooks"} & set(secrets)
