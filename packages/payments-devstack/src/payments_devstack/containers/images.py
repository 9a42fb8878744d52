"""`make images`: the four service images and the AWS emulator's, from services/Dockerfile.

What to build, and with which build arguments, is read from skaffold's own files (skaffold.yaml
and k8s/dev/skaffold.yaml), so `make images` and `skaffold dev` build the same images. Where no
registry is reachable the bases are local builds of the same (scripts/containers/bases.sh).

Settings (environment): CONTAINER_ENGINE (docker or podman; default: whichever works),
IMAGE_TAG (dev), BASE_IMAGES (auto, upstream or local), BUILD_CA_BUNDLE (a CA bundle the build
trusts, for networks that inspect TLS: mounted as a build secret, never stored in an image).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from payments_devstack.containers.engine import REPO, Engine, find_engine
from payments_devstack.errors import DevstackError

SKAFFOLD_CONFIG = REPO / "skaffold.yaml"
BASES_SCRIPT = REPO / "scripts" / "containers" / "bases.sh"
DEFAULT_TAG = "dev"


@dataclass(frozen=True)
class Image:
    """One artifact of skaffold's files: what to build, from where, with which arguments."""

    image: str
    config: Path
    context: Path
    dockerfile: Path
    build_args: tuple[tuple[str, str], ...]

    def arg(self, name: str) -> str:
        return dict(self.build_args)[name]

    def reference(self, tag: str) -> str:
        return f"{self.image}:{tag}"


def skaffold_configs(path: Path = SKAFFOLD_CONFIG) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The config of `path`, then those it requires, each with its file (one config a file)."""
    (config,) = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    yield path, config
    for dependency in config.get("requires", []):
        yield from skaffold_configs((path.parent / dependency["path"]).resolve())


def skaffold_images() -> list[Image]:
    """The artifacts of skaffold.yaml and of the configs it requires: every image we build."""
    images = []
    for file, config in skaffold_configs():
        for artifact in config.get("build", {}).get("artifacts", []):
            context = (file.parent / artifact.get("context", ".")).resolve()
            docker = artifact.get("docker", {})
            images.append(
                Image(
                    image=artifact["image"],
                    config=file,
                    context=context,
                    dockerfile=context / docker.get("dockerfile", "Dockerfile"),
                    build_args=tuple((k, str(v)) for k, v in docker.get("buildArgs", {}).items()),
                )
            )
    return images


def upstream_bases(dockerfile: Path) -> dict[str, str]:
    """The defaults of the Dockerfile's base-image arguments (ARG *_IMAGE=...)."""
    text = dockerfile.read_text(encoding="utf-8")
    return dict(re.findall(r"^ARG ([A-Z_]+_IMAGE)=(\S+)$", text, flags=re.MULTILINE))


def base_arguments(engine: Engine, env: Mapping[str, str], dockerfile: Path) -> list[str]:
    """Build arguments for the bases: none when the upstream ones can be had, else local ones."""
    mode = env.get("BASE_IMAGES") or "auto"
    if mode not in ("auto", "upstream", "local"):
        raise DevstackError(f"BASE_IMAGES must be auto, upstream or local, got {mode!r}")
    if mode == "upstream":
        return []
    if mode == "auto":
        bases = upstream_bases(dockerfile).values()
        if all(engine.image_exists(b) or _pulled(engine, b) for b in bases):
            return []
        _say("no registry reachable for the upstream bases: using local builds of them")
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    uv_version = re.search(r"^UV_VERSION \?= (\S+)$", makefile, flags=re.MULTILINE)
    assert uv_version, "the Makefile pins UV_VERSION"
    result = subprocess.run(  # noqa: S603 - our script
        ["bash", str(BASES_SCRIPT)],  # noqa: S607 - bash from PATH
        env={**engine.env, "ENGINE": engine.name, "UV_VERSION": uv_version[1]},
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DevstackError("local base images could not be built (see the lines above)")
    return result.stdout.split()


def _pulled(engine: Engine, image: str) -> bool:
    return engine.run("pull", "--quiet", image, check=False, timeout=300).returncode == 0


def build(
    engine: Engine,
    images: list[Image],
    *,
    tag: str,
    env: Mapping[str, str],
    log_file: Path,
    only_missing: bool = False,
) -> dict[str, int]:
    """Build each image (or each one missing); returns each built image's size in bytes."""
    wanted = [i for i in images if not (only_missing and engine.image_exists(i.reference(tag)))]
    if not wanted:
        return {}
    bases = base_arguments(engine, env, wanted[0].dockerfile)
    secret: list[str] = []
    if ca_bundle := env.get("BUILD_CA_BUNDLE"):
        if not Path(ca_bundle).is_file():
            raise DevstackError(f"BUILD_CA_BUNDLE={ca_bundle}: no such file")
        secret = ["--secret", f"id=build_ca,src={ca_bundle}"]
    build_env = {**engine.env, "DOCKER_BUILDKIT": "1"}
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sizes = {}
    with log_file.open("w", encoding="utf-8") as log:
        for number, image in enumerate(wanted, start=1):
            reference = image.reference(tag)
            _say(f"[{number}/{len(wanted)}] building {reference} (log: {log_file})")
            started = time.monotonic()
            argv = [
                engine.name, "build", "--network=host", *bases, *secret,
                *(f"--build-arg={k}={v}" for k, v in image.build_args),
                "--file", str(image.dockerfile), "--tag", reference, str(image.context),
            ]  # fmt: skip
            log.write(f"$ {' '.join(argv)}\n")
            log.flush()
            result = subprocess.run(  # noqa: S603 - argv is ours
                argv, env=build_env, stdout=log, stderr=subprocess.STDOUT, check=False
            )
            if result.returncode != 0:
                raise DevstackError(f"{reference} failed to build: see {log_file}")
            size = int(engine.run("image", "inspect", "--format", "{{.Size}}", reference).stdout)
            sizes[reference] = size
            _say(f"built {reference} in {time.monotonic() - started:.0f} s: {size / 1e6:.0f} MB")
    return sizes


def _say(message: str) -> None:
    print(f"images: {message}", flush=True)  # noqa: T201


def main(env: Mapping[str, str]) -> int:
    try:
        engine = find_engine(env)
        _say(f"engine: {engine.name}")
        build(
            engine,
            skaffold_images(),
            tag=env.get("IMAGE_TAG") or DEFAULT_TAG,
            env=env,
            log_file=REPO / ".data" / "logs" / "images.log",
        )
    except DevstackError as error:
        _say(f"error: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(os.environ))
