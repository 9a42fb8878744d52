"""The played pods, through podman: secrets, hook pods, Deployments, their lines, readiness and
restarts, and their stop."""

from __future__ import annotations

import functools
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from payments_devstack.containers.engine import Engine
from payments_devstack.containers.rendering import Container, Rendered, containers
from payments_devstack.environment import write_private
from payments_devstack.errors import DevstackError
from payments_devstack.processes import OutputWriter
from payments_devstack.up import Progress

HOOK_TIMEOUT_SECONDS = 300.0
READY_TIMEOUT_SECONDS = 180.0


def create_secret(engine: Engine, name: str, data: Mapping[str, str], play_dir: Path) -> None:
    """A podman secret that `secretKeyRef` can read: the JSON of the Secret's `data` map."""
    source = play_dir / f"secret-{name}.json"
    write_private(source, json.dumps(data))
    try:
        engine.run("secret", "rm", name, check=False)
        engine.run("secret", "create", name, str(source))
    finally:
        source.unlink()


def kube(engine: Engine, verb: str, play_file: Path, *, check: bool = True) -> None:
    engine.run("kube", verb, str(play_file), check=check, timeout=HOOK_TIMEOUT_SECONDS)


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
        # podman's own timestamp of the last line printed: after a restart, the next follow
        # starts there, so nothing the container wrote meanwhile is lost or printed twice.
        since, last = "", ""
        while not self._stopped.is_set():
            argv = [self._engine.name, "logs", "--follow", "--timestamps"]
            argv += ["--since", since] if since else []
            self._process = subprocess.Popen(  # noqa: S603 - argv is ours
                [*argv, self._container.engine_name],
                env=dict(self._engine.env),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            assert self._process.stdout is not None
            # What the last follow printed comes again from `since` on; a write of several
            # lines (a traceback) gives them one timestamp, so only earlier follows' are skipped.
            printed_before = last
            for raw in self._process.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                stamp, _, text = line.partition(" ")
                order = _in_order(stamp)
                if not order:  # podman's own message, not one of the container's lines
                    self._writer.line(self._container.name, line)
                elif order > printed_before:
                    since, last = stamp, max(last, order)
                    self._writer.line(self._container.name, text)
            self._process.wait()
            # The container stopped; its pod's restart policy starts it again.
            if self._stopped.wait(1.0):
                return


def _in_order(stamp: str) -> str:
    """An RFC 3339 UTC timestamp as podman prints it (trailing zeros of the fraction dropped),
    padded so that strings sort as times; "" for anything else (an error line of podman's)."""
    if not (stamp.endswith("Z") and stamp[:4].isdigit()):
        return ""
    seconds, _, fraction = stamp[:-1].partition(".")
    return f"{seconds}.{fraction.ljust(9, '0')}"


def probe_answers(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(played: list[Container], progress: Progress) -> None:
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
    """Each container's restarts, in one `podman inspect` (-1 for one that is gone)."""
    result = engine.run(
        "inspect", "--format", "{{.Name}} {{.RestartCount}}",
        *(c.engine_name for c in played), check=False,
    )  # fmt: skip
    found = dict(line.split() for line in result.stdout.splitlines() if line.strip())
    return {c.name: int(found.get(c.engine_name, -1)) for c in played}


def pods_file(data: Path) -> Path:
    return data / "kube-play" / "pods.yaml"


def secrets_file(play_dir: Path) -> Path:
    """The names of the podman secrets a play created (their values stay in podman's store)."""
    return play_dir / "secrets.json"


def remove_secrets(engine: Engine, play_dir: Path) -> None:
    names_file = secrets_file(play_dir)
    if names_file.exists():
        for name in json.loads(names_file.read_text(encoding="utf-8")):
            engine.run("secret", "rm", name, check=False)
        names_file.unlink()


def play_deployments(engine: Engine, rendered: Rendered, play_file: Path) -> list[Container]:
    play_file.write_text(
        yaml.safe_dump_all([*rendered.config_maps, *rendered.deployments]), encoding="utf-8"
    )
    engine.run("kube", "play", str(play_file), timeout=HOOK_TIMEOUT_SECONDS)
    return containers(rendered.deployments)


def stop_pods(
    engine: Engine,
    play_file: Path,
    progress: Progress,
    followers: Sequence[LogFollower] = (),
) -> None:
    """Each pod stopped with its own grace period (podman's default is 10 s), then removed with
    the podman secrets; the followers print the containers' last lines and stop before their
    containers go."""
    if not play_file.exists():
        remove_secrets(engine, play_file.parent)
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
    for follower in followers:
        follower.stop()
    engine.run("kube", "down", str(play_file), check=False, timeout=HOOK_TIMEOUT_SECONDS)
    play_file.unlink()
    remove_secrets(engine, play_file.parent)
    progress("pods stopped and removed: " + ", ".join(c.pod for c in played))
