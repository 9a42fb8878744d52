"""A real Prometheus (the system's binary) scraping given /metrics URLs, for whole-stack tests."""

import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from payments_devstack.observe import prometheus_command, prometheus_config, write_config
from payments_devstack.processes import find_free_port

READY_TIMEOUT_SECONDS = 30.0
# Short enough that a few seconds of traffic give every rate two samples.
SCRAPE_INTERVAL = "1s"

Sample = dict[str, Any]


@dataclass
class Prometheus:
    url: str
    log_file: Path

    def _get(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[Sample]:
        """The instant vector (or scalar, as one sample) of `expr`; fails if it does not run."""
        data = self._get("/api/v1/query", query=expr)
        if data["resultType"] in {"scalar", "string"}:
            return [{"metric": {}, "value": data["result"]}]
        result: list[Sample] = data["result"]
        return result

    def metric_names(self) -> set[str]:
        return set(self._get("/api/v1/label/__name__/values"))

    def rules(self) -> list[dict[str, Any]]:
        groups = self._get("/api/v1/rules")["groups"]
        return [rule for group in groups for rule in group["rules"]]


@contextmanager
def running_prometheus(
    binary: str, directory: Path, metrics_urls: Mapping[str, str], rules: Sequence[Path]
) -> Iterator[Prometheus]:
    config = write_config(
        directory, prometheus_config(metrics_urls, rules, interval=SCRAPE_INTERVAL)
    )
    listen = f"127.0.0.1:{find_free_port()}"
    log_file = directory / "prometheus.log"
    with log_file.open("w") as log:
        process = subprocess.Popen(
            prometheus_command(binary, config, directory / "data", listen),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    prometheus = Prometheus(f"http://{listen}", log_file)
    try:
        _wait_ready(process, prometheus)
        yield prometheus
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], prometheus: Prometheus) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{prometheus.url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    tail = prometheus.log_file.read_text()[-3000:]
    raise AssertionError(f"prometheus did not become ready:\n{tail}")
