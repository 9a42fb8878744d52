"""`make kube-play`: the chart's pods on this host under `podman kube play`, no Kubernetes.

`make up`'s infrastructure starts as it does there (PostgreSQL, the mended AWS emulator,
Temporal, the webhook receiver, on 127.0.0.1); then `charts/payments` is rendered with
`ci/podman-values.yaml` and what the stack chose (database URL, secrets, ports); the
provisioning and migrations hooks' pods run to completion; the demo merchant is seeded; and the
four Deployments are played with the chart's own ConfigMap, Secret, security context, volumes,
commands and probes. It stays in the foreground, printing every container's lines, until Ctrl-C
stops the pods (each within its terminationGracePeriodSeconds) and then the infrastructure.

What podman 4.3 (Debian 12) needs, done to the rendered objects and nothing else:
- a container on the host's network may not declare `ports`, so they are dropped, and a probe
  naming a port gets its number instead;
- a played Secret cannot be read back by `secretKeyRef`, so each Secret becomes a podman secret
  (`podman secret create`, from its `data` map) before anything is played;
- a Job is not a kind it plays, so each hook Job's pod template is played as a Pod.
Services, PodDisruptionBudgets, ServiceAccounts, HPAs, NetworkPolicies, ScaledObjects and the
`helm test` pod have nothing to act on one host and are left out.

`make kube-down` stops whatever a previous `make kube-play` left running.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml  # type: ignore[import-untyped]

from payments_devstack.containers.engine import REPO, Engine, find_engine
from payments_devstack.containers.images import DEFAULT_TAG, build, skaffold_images
from payments_devstack.environment import Ports
from payments_devstack.errors import DevstackError
from payments_devstack.processes import OutputWriter, StopRequested, StopSignals, Supervisor
from payments_devstack.services import APP_SERVICES, AppService
from payments_devstack.unconsumed_queues import QueuePurger, unconsumed_queue_names
from payments_devstack.up import (
    Progress,
    StackOptions,
    kill_everything,
    stack_summary,
    start_stack,
)

CHART = REPO / "charts" / "payments"
PODMAN_VALUES = CHART / "ci" / "podman-values.yaml"
RELEASE = "payments"
HOOK_TIMEOUT_SECONDS = 300.0
READY_TIMEOUT_SECONDS = 180.0
# What the chart renders that nothing plays on one host.
LEFT_OUT = {
    "Service", "ServiceAccount", "PodDisruptionBudget", "HorizontalPodAutoscaler",
    "NetworkPolicy", "ScaledObject", "TriggerAuthentication", "ServiceMonitor",
    "PrometheusRule", "Ingress", "HTTPRoute",
}  # fmt: skip
# The health ports `make up` gives the consumers, by the chart's value that sets each.
HEALTH_PORT_VALUES = {
    "worker": "worker",
    "processor": "paymentProcessor",
    "webhooks": "webhookSender",
}


@dataclass(frozen=True)
class Container:
    """One played container: podman names it <pod>-<container>."""

    pod: str
    name: str
    grace_seconds: int
    probes: Mapping[str, tuple[int, str]]

    @property
    def engine_name(self) -> str:
        return f"{self.pod}-{self.name}"


@dataclass
class Rendered:
    """The chart's objects, as podman can play them."""

    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    config_maps: list[dict[str, Any]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def render(values_files: list[Path], *, helm: str) -> list[dict[str, Any]]:
    argv = [helm, "template", RELEASE, str(CHART), "--namespace", RELEASE]
    for values in values_files:
        argv += ["--values", str(values)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise DevstackError(f"helm template failed: {result.stderr.strip()}")
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def for_podman(documents: list[dict[str, Any]]) -> Rendered:
    rendered = Rendered()
    jobs = []
    for document in documents:
        kind, name = document["kind"], document["metadata"]["name"]
        if _hook(document) == "test":
            rendered.left_out.append(f"helm test {kind}/{name}")
        elif kind == "Secret":
            rendered.secrets[name] = dict(document.get("data") or {})
        elif kind == "ConfigMap":
            rendered.config_maps.append(document)
        elif kind == "Deployment":
            _podman_containers(document["spec"]["template"]["spec"])
            rendered.deployments.append(document)
        elif kind == "Job":
            jobs.append(document)
        else:
            rendered.left_out.append(f"{kind}/{name}")
            if kind not in LEFT_OUT:
                raise DevstackError(f"the chart rendered a {kind}, which kube-play cannot place")
    # Hooks in Helm's order: by weight, then by name.
    jobs.sort(key=lambda job: (_hook_weight(job), job["metadata"]["name"]))
    for job in jobs:
        template = copy.deepcopy(job["spec"]["template"])
        _podman_containers(template["spec"])
        rendered.hooks.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {**template.get("metadata", {}), "name": job["metadata"]["name"]},
                "spec": template["spec"],
            }
        )
    return rendered


def _hook(document: dict[str, Any]) -> str | None:
    hook: str | None = document["metadata"].get("annotations", {}).get("helm.sh/hook")
    return hook


def _hook_weight(job: dict[str, Any]) -> int:
    return int(job["metadata"].get("annotations", {}).get("helm.sh/hook-weight", "0"))


def _podman_containers(pod_spec: dict[str, Any]) -> None:
    """Drop `ports` (refused on the host network) and give probes the port numbers."""
    for container in pod_spec["containers"]:
        numbers = {port["name"]: port["containerPort"] for port in container.pop("ports", [])}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = container.get(probe, {}).get("httpGet")
            if get is not None and isinstance(get["port"], str):
                get["port"] = numbers[get["port"]]


def containers(deployments: list[dict[str, Any]]) -> list[Container]:
    """What `podman kube play` starts for the Deployments: one pod per Deployment, <name>-pod-0."""
    result = []
    for deployment in deployments:
        spec = deployment["spec"]["template"]["spec"]
        for container in spec["containers"]:
            probes = {
                probe: (container[probe]["httpGet"]["port"], container[probe]["httpGet"]["path"])
                for probe in ("startupProbe", "livenessProbe", "readinessProbe")
                if probe in container
            }
            result.append(
                Container(
                    pod=f"{deployment['metadata']['name']}-pod-0",
                    name=container["name"],
                    grace_seconds=int(spec.get("terminationGracePeriodSeconds", 30)),
                    probes=probes,
                )
            )
    return result


def stack_values(env: Mapping[str, str], service_env: Mapping[str, str]) -> dict[str, Any]:
    """What `make up` would hand its processes, as the chart's values."""
    ports = Ports.from_env(env)
    values: dict[str, Any] = {
        "image": {"tag": env.get("IMAGE_TAG") or DEFAULT_TAG},
        "config": {
            "aws": {"endpointUrl": service_env["AWS_ENDPOINT_URL"]},
            "temporal": {"address": service_env["TEMPORAL_ADDRESS"]},
            "webhookAllowPrivateUrls": service_env["WEBHOOK_ALLOW_PRIVATE_URLS"].lower()
            in ("1", "true", "yes"),
        },
        "secrets": {
            "databaseUrl": service_env["DATABASE_URL"],
            "adminApiToken": service_env["ADMIN_API_TOKEN"],
            "webhookEncryptionKey": service_env["WEBHOOK_ENCRYPTION_KEY"],
        },
        "api": {"port": ports.api.number, "env": {}},
        "webhookSender": {"env": {}},
    }
    if level := env.get("LOG_LEVEL"):
        values["config"]["logLevel"] = level
    for service in APP_SERVICES:
        if service.name in HEALTH_PORT_VALUES:
            component = values.setdefault(HEALTH_PORT_VALUES[service.name], {})
            component["metricsPort"] = service.health_port(env)
    if limit := env.get("RATE_LIMIT_PER_MINUTE"):
        values["api"]["env"]["RATE_LIMIT_PER_MINUTE"] = limit
    if schedule := env.get("WEBHOOK_RETRY_SCHEDULE"):
        values["webhookSender"]["env"]["WEBHOOK_RETRY_SCHEDULE"] = schedule
    return values


class PodmanSteps:
    """The stack's middle steps for `make kube-play`: render, secrets, hook pods, then the
    purger of the queues nobody reads here; the Deployments are played afterwards."""

    start_services = False

    def __init__(
        self, engine: Engine, env: Mapping[str, str], play_dir: Path, progress: Progress
    ) -> None:
        self.engine = engine
        self.env = env
        self.play_dir = play_dir
        self.progress = progress
        self.rendered: Rendered | None = None

    def prepare(self, service_env: Mapping[str, str], services: list[AppService]) -> QueuePurger:
        self.play_dir.mkdir(parents=True, exist_ok=True)
        overrides = self.play_dir / "values.yaml"
        _write_private(overrides, yaml.safe_dump(stack_values(self.env, service_env)))
        try:
            documents = render([PODMAN_VALUES, overrides], helm=_helm())
        finally:
            overrides.unlink()
        rendered = self.rendered = for_podman(documents)
        self.progress(
            "chart rendered (ci/podman-values.yaml); not played here: "
            + ", ".join(sorted({entry.split("/")[0] for entry in rendered.left_out}))
        )
        for name, data in rendered.secrets.items():
            _create_secret(self.engine, name, data, self.play_dir)
        self.progress("podman secrets created: " + ", ".join(rendered.secrets))
        for hook in rendered.hooks:
            self._run_hook(hook)
        return _purger(service_env, services)

    def _run_hook(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        play_file = self.play_dir / f"{name}.yaml"
        play_file.write_text(yaml.safe_dump(pod), encoding="utf-8")
        _kube(self.engine, "down", play_file, check=False)
        started = time.monotonic()
        _kube(self.engine, "play", play_file)
        (container,) = pod["spec"]["containers"]
        engine_name = f"{name}-{container['name']}"
        try:
            self.engine.run("wait", engine_name, timeout=HOOK_TIMEOUT_SECONDS)
            code = self.engine.run("inspect", "--format", "{{.State.ExitCode}}", engine_name)
            logs = self.engine.run("logs", engine_name, check=False)
            lines = (logs.stdout + logs.stderr).strip().splitlines()
        finally:
            _kube(self.engine, "down", play_file, check=False)
        if code.stdout.strip() != "0":
            tail = "; ".join(lines[-3:])
            raise DevstackError(f"hook pod {name} exited with {code.stdout.strip()}: {tail}")
        self.progress(f"hook pod {name} completed in {time.monotonic() - started:.1f} s")


def _helm() -> str:
    pinned = REPO / ".tools" / "bin" / "helm"
    return str(pinned) if pinned.exists() else "helm"


def _write_private(path: Path, text: str) -> None:
    """Secrets on disk: created 0600 before anything is written."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _create_secret(engine: Engine, name: str, data: Mapping[str, str], play_dir: Path) -> None:
    """A podman secret that `secretKeyRef` can read: the JSON of the Secret's `data` map."""
    source = play_dir / f"secret-{name}.json"
    _write_private(source, json.dumps(data))
    try:
        engine.run("secret", "rm", name, check=False)
        engine.run("secret", "create", name, str(source))
    finally:
        source.unlink()


def _kube(engine: Engine, verb: str, play_file: Path, *, check: bool = True) -> None:
    engine.run("kube", verb, str(play_file), check=check, timeout=HOOK_TIMEOUT_SECONDS)


def _purger(env: Mapping[str, str], services: list[AppService]) -> QueuePurger:
    """`make up`'s purge of the queues no process reads here, found by name."""
    names = unconsumed_queue_names(queue for service in services for queue in service.consumes)
    sqs = boto3.client(
        "sqs",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    urls = [sqs.get_queue_url(QueueName=name)["QueueUrl"] for name in names]
    return QueuePurger(
        endpoint_url=env["AWS_ENDPOINT_URL"], region=env["AWS_REGION"], queue_urls=urls
    ).start()


class LogFollower:
    """Prints one container's lines as `<name> | ...`, following it across restarts."""

    def __init__(self, engine: Engine, container: Container, writer: OutputWriter) -> None:
        self._engine = engine
        self._container = container
        self._writer = writer
        self._stopped = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def start(self) -> LogFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    def _follow(self) -> None:
        since: str | None = None
        while not self._stopped.is_set():
            argv = [self._engine.name, "logs", "--follow"]
            argv += ["--since", since] if since else []
            self._process = subprocess.Popen(  # noqa: S603 - argv is ours
                [*argv, self._container.engine_name],
                env=dict(self._engine.env),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            assert self._process.stdout is not None
            for raw in self._process.stdout:
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                self._writer.line(self._container.name, text)
            self._process.wait()
            # The container stopped (a restart follows under the pod's policy): pick up from here.
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self._stopped.wait(1.0)


def probe_answers(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(engine: Engine, played: list[Container], progress: Progress) -> None:
    """Until every container's readiness probe answers 200, as a kubelet would see it."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    waiting = list(played)
    while waiting:
        for container in list(waiting):
            port, path = container.probes["readinessProbe"]
            if probe_answers(port, path):
                waiting.remove(container)
                progress(f"{container.name} ready ({container.engine_name}, GET :{port}{path})")
        if waiting and time.monotonic() > deadline:
            names = ", ".join(c.engine_name for c in waiting)
            raise DevstackError(f"not ready after {READY_TIMEOUT_SECONDS:.0f} s: {names}")
        time.sleep(0.5)


def restart_counts(engine: Engine, played: list[Container]) -> dict[str, int]:
    counts = {}
    for container in played:
        result = engine.run(
            "inspect", "--format", "{{.RestartCount}}", container.engine_name, check=False
        )
        counts[container.name] = int(result.stdout.strip() or -1)
    return counts


def pods_file(data: Path) -> Path:
    return data / "kube-play" / "pods.yaml"


def play_deployments(engine: Engine, rendered: Rendered, play_file: Path) -> list[Container]:
    play_file.write_text(
        yaml.safe_dump_all([*rendered.config_maps, *rendered.deployments]), encoding="utf-8"
    )
    engine.run("kube", "play", str(play_file), timeout=HOOK_TIMEOUT_SECONDS)
    return containers(rendered.deployments)


def stop_pods(engine: Engine, play_file: Path, progress: Progress) -> None:
    """Each pod stopped with its own grace period (podman's default is 10 s), then removed."""
    if not play_file.exists():
        return
    documents = [d for d in yaml.safe_load_all(play_file.read_text(encoding="utf-8")) if d]
    played = containers([d for d in documents if d["kind"] == "Deployment"])
    threads = [
        threading.Thread(
            target=functools.partial(
                engine.run, "stop", "--time", str(c.grace_seconds), c.engine_name, check=False
            )
        )
        for c in played
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.run("kube", "down", str(play_file), check=False, timeout=HOOK_TIMEOUT_SECONDS)
    play_file.unlink()
    progress("pods stopped and removed: " + ", ".join(c.pod for c in played))


@contextlib.contextmanager
def following(engine: Engine, played: list[Container], writer: OutputWriter) -> Iterator[None]:
    followers = [LogFollower(engine, container, writer).start() for container in played]
    try:
        yield
    finally:
        for follower in followers:
            follower.stop()


def up(env: Mapping[str, str], data: Path) -> int:
    supervisor = Supervisor()
    progress = Progress(supervisor, "kube-play")
    StopSignals(on_repeat=lambda: kill_everything(supervisor, progress)).install()
    play_file = pods_file(data)
    engine: Engine | None = None
    purger: QueuePurger | None = None
    try:
        engine = find_engine(env, required="podman")
        built = build(
            engine,
            skaffold_images(),
            tag=env.get("IMAGE_TAG") or DEFAULT_TAG,
            env=env,
            log_file=data / "logs" / "images.log",
            only_missing=True,
        )
        progress(f"images: {len(built)} built, the rest were there (make images rebuilds all)")
        stop_pods(engine, play_file, progress)
        steps = PodmanSteps(engine, env, data / "kube-play", progress)
        stack = start_stack(REPO, env, supervisor, progress, StackOptions(data, steps=steps))
        purger = stack.purger
        assert steps.rendered is not None
        played = play_deployments(engine, steps.rendered, play_file)
        progress("pods played: " + ", ".join(c.engine_name for c in played))
        with following(engine, played, supervisor.writer):
            wait_ready(engine, played, progress)
            health = {
                service.name: port
                for service in APP_SERVICES
                if service.name in HEALTH_PORT_VALUES and (port := service.health_port(env))
            }
            lines = stack_summary(stack, health)
            pods = [f"  pods               {', '.join(c.pod for c in played)} (podman pod ps)"]
            supervisor.writer.block("kube-play", ["", *lines[:1], *pods, *lines[1:]])
            return _watch(engine, played, supervisor, progress)
    except DevstackError as error:
        progress(f"error: {error}; stopping everything")
        return 1
    except StopRequested as stop:
        progress(f"{stop.signal_name} received; stopping everything")
        return 0
    finally:
        if engine is not None:
            stop_pods(engine, play_file, progress)
        if purger is not None:
            purger.stop()
        supervisor.stop_all()
        progress("stopped")


def _watch(
    engine: Engine, played: list[Container], supervisor: Supervisor, progress: Progress
) -> int:
    """Until Ctrl-C or an infrastructure process dies; pod restarts are reported, not fatal."""
    counts = restart_counts(engine, played)
    while True:
        exited = supervisor.unexpected_exit()
        if exited is not None:
            progress(f"error: {supervisor.describe_exit(exited)}; stopping everything")
            return 1
        time.sleep(2.0)
        now = restart_counts(engine, played)
        for name, count in now.items():
            if count > counts[name]:
                progress(f"{name} restarted by its pod's restart policy (restarts: {count})")
        counts = now


def down(env: Mapping[str, str], data: Path) -> int:
    supervisor = Supervisor()
    progress = Progress(supervisor, "kube-down")
    try:
        engine = find_engine(env, required="podman")
        play_file = pods_file(data)
        if not play_file.exists():
            progress("no pods of make kube-play to stop")
            return 0
        stop_pods(engine, play_file, progress)
    except DevstackError as error:
        progress(f"error: {error}")
        return 1
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m payments_devstack.containers.kube_play")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument(
        "--data", type=Path, default=REPO / ".data", help="state directory (make up's .data/)"
    )
    arguments = parser.parse_args(argv)
    command = up if arguments.command == "up" else down
    return command(os.environ, arguments.data.resolve())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
