"""The container engine: docker or podman, whichever works here, podman from Debian if neither.

On a machine like CI's (root, hybrid cgroups, no CAP_SYS_RESOURCE) podman needs the settings of
scripts/containers/containers.conf; they are passed with CONTAINERS_CONF unless the user set one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from payments_devstack.errors import DevstackError

REPO = Path(__file__).resolve().parents[5]
CONTAINERS_CONF = REPO / "scripts" / "containers" / "containers.conf"
ENGINES = ("docker", "podman")


@dataclass(frozen=True)
class Engine:
    name: str
    env: Mapping[str, str]

    def run(
        self, *args: str, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `<engine> args...` and capture its output; a failure raises with its stderr."""
        result = subprocess.run(  # noqa: S603 - argv is ours
            [self.name, *args],
            env=dict(self.env),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise DevstackError(
                f"{self.name} {args[0]} failed: {detail[-1] if detail else result.returncode}"
            )
        return result

    def image_exists(self, image: str) -> bool:
        return self.run("image", "inspect", image, check=False).returncode == 0


def engine_environment(name: str, env: Mapping[str, str]) -> dict[str, str]:
    result = dict(env)
    if name == "podman" and not result.get("CONTAINERS_CONF"):
        result["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    return result


def _works(name: str, env: Mapping[str, str]) -> bool:
    if shutil.which(name) is None:
        return False
    result = subprocess.run(  # noqa: S603 - a fixed argv
        [name, "info"], env=dict(env), capture_output=True, check=False, timeout=60
    )
    return result.returncode == 0


def find_engine(env: Mapping[str, str], *, required: str | None = None) -> Engine:
    """CONTAINER_ENGINE if set, else the first of docker and podman that answers `info`, else
    podman installed from Debian when we are root (CI); else a DevstackError saying what to do."""
    wanted = required or env.get("CONTAINER_ENGINE") or None
    if wanted is not None and wanted not in ENGINES:
        raise DevstackError(f"CONTAINER_ENGINE must be docker or podman, got {wanted!r}")
    for name in (wanted,) if wanted else ENGINES:
        name_env = engine_environment(name, env)
        if _works(name, name_env):
            return Engine(name, name_env)
    if (wanted in (None, "podman")) and shutil.which("podman") is None:
        _install_podman()
        name_env = engine_environment("podman", env)
        if _works("podman", name_env):
            return Engine("podman", name_env)
    raise DevstackError(
        f"no working container engine ({wanted or 'docker or podman'}): install podman "
        "(apt-get install podman runc) or start Docker"
    )


def _install_podman() -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise DevstackError(
            "neither docker nor podman is installed: install one (Debian/Ubuntu: "
            "apt-get install podman runc)"
        )
    print("images: installing podman, runc and debootstrap from Debian (apt-get)", flush=True)  # noqa: T201
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "podman", "runc", "debootstrap"],
    ):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise DevstackError(f"{' '.join(argv)} failed: {result.stderr.strip()[-300:]}")
