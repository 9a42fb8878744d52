"""`make kube-play`: the chart's pods on this host under `podman kube play`, no Kubernetes.

`make up`'s infrastructure starts as it does there (PostgreSQL, the mended AWS emulator,
Temporal, the webhook receiver, on 127.0.0.1); then `charts/payments` is rendered with
`ci/podman-values.yaml` and what the stack chose (database URL, secrets, ports; rendering.py);
the provisioning and migrations hooks' pods run to completion; the demo merchant is seeded; and
the four Deployments are played with the chart's own ConfigMap, Secret, security context,
volumes, commands and probes (pods.py). It stays in the foreground, printing every container's
lines, until Ctrl-C stops the pods (each within its terminationGracePeriodSeconds) and then the
infrastructure.

`make kube-down` stops whatever a previous `make kube-play` left running.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import yaml  # type: ignore[import-untyped]

from payments_devstack.containers.engine import REPO, Engine, find_engine
from payments_devstack.containers.images import DEFAULT_TAG, build, skaffold_images
from payments_devstack.containers.pods import (
    HOOK_TIMEOUT_SECONDS,
    LogFollower,
    create_secret,
    kube,
    play_deployments,
    pods_file,
    restart_counts,
    secrets_file,
    stop_pods,
    wait_ready,
)
from payments_devstack.containers.rendering import (
    HEALTH_PORT_VALUES,
    PODMAN_VALUES,
    Container,
    Rendered,
    for_podman,
    helm_binary,
    render,
    stack_values,
)
from payments_devstack.environment import write_private
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


class PodmanSteps:
    """The stack's middle steps for `make kube-play`: render, secrets, hook pods, then the
    purger of the queues nobody reads here; the Deployments are played afterwards."""

    start_services = False

    def __init__(
        self,
        engine: Engine,
        env: Mapping[str, str],
        play_dir: Path,
        progress: Progress,
        writer: OutputWriter,
    ) -> None:
        self.engine = engine
        self.env = env
        self.play_dir = play_dir
        self.progress = progress
        self.writer = writer
        self.rendered: Rendered | None = None

    def prepare(self, service_env: Mapping[str, str], services: list[AppService]) -> QueuePurger:
        self.play_dir.mkdir(parents=True, exist_ok=True)
        overrides = self.play_dir / "values.yaml"
        write_private(overrides, yaml.safe_dump(stack_values(self.env, service_env)))
        try:
            documents = render([PODMAN_VALUES, overrides], helm=helm_binary())
        finally:
            overrides.unlink()
        rendered = self.rendered = for_podman(documents)
        self.progress(
            "chart rendered (ci/podman-values.yaml); not played here: "
            + ", ".join(sorted(rendered.left_out))
        )
        # Named first, so that a stop removes them even if a creation below fails.
        secrets_file(self.play_dir).write_text(json.dumps(list(rendered.secrets)))
        for name, data in rendered.secrets.items():
            create_secret(self.engine, name, data, self.play_dir)
        self.progress("podman secrets created: " + ", ".join(rendered.secrets))
        for hook in rendered.hooks:
            self._run_hook(hook)
        return _purger(service_env, services)

    def _run_hook(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        play_file = self.play_dir / f"{name}.yaml"
        play_file.write_text(yaml.safe_dump(pod), encoding="utf-8")
        kube(self.engine, "down", play_file, check=False)
        started = time.monotonic()
        kube(self.engine, "play", play_file)
        (container,) = pod["spec"]["containers"]
        engine_name = f"{name}-{container['name']}"
        try:
            self.engine.run("wait", engine_name, timeout=HOOK_TIMEOUT_SECONDS)
            code = self.engine.run("inspect", "--format", "{{.State.ExitCode}}", engine_name)
            logs = self.engine.run("logs", engine_name, check=False)
            lines = (logs.stdout + logs.stderr).strip().splitlines()
        finally:
            kube(self.engine, "down", play_file, check=False)
        for line in lines:
            self.writer.line(container["name"], line)
        if code.stdout.strip() != "0":
            tail = "; ".join(lines[-3:])
            raise DevstackError(f"hook pod {name} exited with {code.stdout.strip()}: {tail}")
        self.progress(f"hook pod {name} completed in {time.monotonic() - started:.1f} s")


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


def up(env: Mapping[str, str], data: Path) -> int:
    supervisor = Supervisor()
    progress = Progress(supervisor, "kube-play")
    StopSignals(on_repeat=lambda: kill_everything(supervisor, progress)).install()
    play_file = pods_file(data)
    engine: Engine | None = None
    purger: QueuePurger | None = None
    followers: list[LogFollower] = []
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
        steps = PodmanSteps(engine, env, data / "kube-play", progress, supervisor.writer)
        stack = start_stack(REPO, env, supervisor, progress, StackOptions(data, steps=steps))
        purger = stack.purger
        assert steps.rendered is not None
        played = play_deployments(engine, steps.rendered, play_file)
        progress("pods played: " + ", ".join(c.engine_name for c in played))
        followers = [LogFollower(engine, c, supervisor.writer).start() for c in played]
        wait_ready(played, progress)
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
            stop_pods(engine, play_file, progress, followers)
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
