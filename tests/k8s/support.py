"""What the Kubernetes tests share: the pinned CLIs, the CRD schemas, and object validation.

The CLIs come from `scripts/k8s-tools.sh` (`.tools/bin`, or TOOLS_DIR), else PATH; a test that
needs a missing one skips and says how to get it. CRD schemas come from K8S_CRD_SCHEMAS, else
`../shared/k8s-schemas` beside the repository, and are skipped with a visible reason when absent.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
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
