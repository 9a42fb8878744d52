"""What the Kubernetes tests share: the pinned CLIs, the CRD schemas, object validation, the
images skaffold builds and the Dockerfile they are built from.

The CLIs come from `scripts/k8s-tools.sh` (`.tools/bin`, or TOOLS_DIR), else PATH; a test that
needs a missing one skips and says how to get it. CRD schemas come from K8S_CRD_SCHEMAS, else
`../shared/k8s-schemas` beside the repository, and are skipped with a visible reason when absent.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from payments_devstack.containers.images import Image, skaffold_images

REPO = Path(__file__).resolve().parents[2]
SKAFFOLD_CONFIG = REPO / "skaffold.yaml"
DOCKERFILE = REPO / "services" / "Dockerfile"
KUBERNETES_VERSION = "1.33.0"


def tool(name: str) -> str:
    """The CLI's path; skips the test when it is not installed."""
    tools_dir = Path(os.environ.get("TOOLS_DIR") or REPO / ".tools" / "bin")
    candidate = tools_dir / name
    if candidate.exists() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    pytest.skip(f"{name} not installed: run scripts/k8s-tools.sh")


def run(*argv: str, cwd: Path = REPO) -> str:
    """Run a CLI; its stderr is part of the failure message when it fails."""
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def load_all(text: str) -> list[dict[str, Any]]:
    """Every non-empty YAML document of a multi-document stream."""
    return [document for document in yaml.safe_load_all(text) if document]


def crd_schema_dir() -> Path | None:
    configured = os.environ.get("K8S_CRD_SCHEMAS")
    directory = Path(configured) if configured else REPO.parent / "shared" / "k8s-schemas"
    return directory if directory.is_dir() else None


@cache
def _crd_validator(group: str, kind: str, version: str) -> jsonschema.protocols.Validator | None:
    """The CRD schema's validator, built once. The schema itself is not checked against its
    meta-schema: CRD schemas carry Go regular expressions (`^(?i)(abort|warn)?$` in
    PrometheusRule) that Python's `re` rejects, although no instance here exercises them."""
    directory = crd_schema_dir()
    if directory is None:
        return None
    path = directory / group / f"{kind.lower()}_{version}.json"
    if not path.exists():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


# Groups under k8s.io that are CRDs rather than built into the API server.
_CRD_GROUPS_UNDER_K8S_IO = frozenset({"gateway.networking.k8s.io"})


def is_custom_resource(document: dict[str, Any]) -> bool:
    """Built-in groups are the core group, dot-less ones (apps, batch...) and `*.k8s.io`."""
    group = str(document.get("apiVersion", "")).rpartition("/")[0]
    if group in _CRD_GROUPS_UNDER_K8S_IO:
        return True
    return "." in group and not group.endswith(".k8s.io")


def validate(document: dict[str, Any]) -> None:
    """Strict validation: core objects against Kubernetes 1.33's schemas, custom resources
    against the CRD schemas (skips the test when those are absent)."""
    if is_custom_resource(document):
        group, _, version = str(document["apiVersion"]).rpartition("/")
        validator = _crd_validator(group, str(document["kind"]), version)
        if validator is None:
            if crd_schema_dir() is None:
                pytest.skip("CRD schemas not found: set K8S_CRD_SCHEMAS")
            raise AssertionError(f"no schema for {document['apiVersion']} {document['kind']}")
        validator.validate(document)
        return
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def validate_all(documents: Iterable[dict[str, Any]]) -> None:
    for document in documents:
        name = f"{document.get('kind')}/{document.get('metadata', {}).get('name')}"
        try:
            validate(document)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as error:
            raise AssertionError(f"{name} is invalid: {error}") from None


# The images skaffold builds


# An image skaffold builds, its paths resolved as skaffold resolves them (`make images` builds
# exactly these).
Artifact = Image


@cache
def skaffold_artifacts() -> tuple[Artifact, ...]:
    """The artifacts of skaffold.yaml and of the configs it requires: every image we build,
    as `make images` reads them."""
    return tuple(skaffold_images())


# services/Dockerfile, parsed


_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
# The instructions in which Docker substitutes variables; RUN's are the shell's, at build time.
_SUBSTITUTED = {"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "USER", "VOLUME", "WORKDIR"}


def substitute(text: str, scope: Mapping[str, str]) -> str:
    """`$NAME` and `${NAME}` of the variables in scope; others (the base image's PATH) stay."""
    return _VARIABLE.sub(lambda m: scope.get(m[1] or m[2], m[0]), text)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    # The ARGs and ENVs in effect at this instruction, with the image's values.
    scope: tuple[tuple[str, str], ...] = ()

    def words(self) -> list[str]:
        words = shlex.split(self.arguments)
        if self.keyword not in _SUBSTITUTED:
            return words
        return [substitute(word, dict(self.scope)) for word in words]

    def flags_and_words(self) -> tuple[dict[str, str], list[str]]:
        """`COPY --from=builder a b` -> ({"from": "builder"}, ["a", "b"])."""
        flags: dict[str, str] = {}
        words = self.words()
        while words and words[0].startswith("--"):
            name, _, value = words.pop(0)[2:].partition("=")
            flags[name] = value
        return flags, words

    def pairs(self) -> dict[str, str]:
        """ENV and LABEL's `key=value` words."""
        return dict(word.split("=", 1) for word in self.words())

    @property
    def mounts(self) -> list[str]:
        """A RUN's `--mount=` flags."""
        flags = re.match(r"^(--\S+\s+)*", self.arguments)
        return re.findall(r"--mount=(\S+)", flags[0] if flags else "")

    @property
    def shell(self) -> str:
        """A RUN's command without its BuildKit flags (`--mount=...`)."""
        return re.sub(r"^(--\S+\s+)*", "", self.arguments)


@dataclass(frozen=True)
class Stage:
    source: str  # FROM as written
    base: str  # FROM with the global ARGs substituted
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        return {k: v for i in self.all("ENV") for k, v in i.pairs().items()}

    def labels(self) -> dict[str, str]:
        return {k: v for i in self.all("LABEL") for k, v in i.pairs().items()}


@dataclass(frozen=True)
class Dockerfile:
    arguments: dict[str, str]  # the global ARGs (before the first FROM), given or defaults
    stages: tuple[Stage, ...]

    def stage(self, name: str | None) -> Stage:
        """The named stage, or the final one."""
        return self.stages[-1] if name is None else next(s for s in self.stages if s.name == name)


def _lines() -> list[tuple[str, str]]:
    """(keyword, arguments) of each instruction: comments dropped, continuation lines joined."""
    instructions = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def _declared(arguments: str) -> tuple[str, str | None]:
    """`ARG NAME=default` -> (NAME, default); `ARG NAME` -> (NAME, None)."""
    [word] = shlex.split(arguments)
    name, equals, default = word.partition("=")
    return name, default if equals else None


@cache
def parse_dockerfile(build_args: tuple[tuple[str, str], ...] = ()) -> Dockerfile:
    """services/Dockerfile as built with these arguments. Docker's scoping: a global ARG is seen by
    FROM only, a stage sees the ARGs it declares (a declared one without value is empty) and its
    ENVs, each from where it is declared on."""
    given = dict(build_args)
    defaults: dict[str, str] = {}
    stages: list[Stage] = []
    scope: dict[str, str] = {}
    for keyword, arguments in _lines():
        if keyword == "ARG" and not stages:
            name, default = _declared(arguments)
            defaults[name] = given.get(name, default or "")
        elif keyword == "FROM":
            source, *alias = re.split(r"\s+as\s+", arguments, flags=re.IGNORECASE)
            stages.append(
                Stage(source, substitute(source, defaults), alias[0] if alias else None, ())
            )
            scope = {}
        else:
            instruction = Instruction(keyword, arguments, tuple(scope.items()))
            if keyword == "ARG":
                name, default = _declared(arguments)
                fallback = defaults.get(name, "") if default is None else default
                scope[name] = given.get(name, fallback)
            elif keyword == "ENV":
                scope |= instruction.pairs()
            last = stages[-1]
            stages[-1] = Stage(last.source, last.base, last.name, (*last.instructions, instruction))
    return Dockerfile(defaults, tuple(stages))
