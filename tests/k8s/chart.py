"""The payments chart as the tests see it: renders (each cached once per session) and lookups.

Every render uses the release name and namespace "payments", so the chart's fullname, and with
it every resource name, is "payments" and "payments-<component>".
"""

import subprocess
from functools import cache
from typing import Any

from tests.k8s.support import REPO, load_all, run, tool

CHART = REPO / "charts" / "payments"
RELEASE = NAMESPACE = "payments"
CI_VALUES = sorted(path.name for path in (CHART / "ci").glob("*.yaml"))
# None: the chart's defaults.
VALUES_FILES: list[str | None] = [None, *CI_VALUES]
COMPONENTS = ("api", "worker", "payment-processor", "webhook-sender")
CONSUMERS = ("payment-processor", "webhook-sender")
POD_KINDS = ("Deployment", "Job", "Pod")

Document = dict[str, Any]


def values_args(values_file: str | None) -> tuple[str, ...]:
    return ("--values", str(CHART / "ci" / values_file)) if values_file else ()


@cache
def render(values_file: str | None, *extra: str) -> tuple[Document, ...]:
    """`helm template` of the chart with a ci/ values file (or the defaults) and extra flags."""
    output = run(
        tool("helm"),
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        *values_args(values_file),
        *extra,
    )
    return tuple(load_all(output))


def render_error(*args: str) -> str:
    """The error of a render that must fail (the test fails if it succeeds)."""
    result = subprocess.run(
        [tool("helm"), "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0, f"helm template {' '.join(args)} should have failed"
    return result.stderr


def of_kind(documents: tuple[Document, ...], kind: str) -> list[Document]:
    return [document for document in documents if document["kind"] == kind]


def named(documents: tuple[Document, ...], kind: str, name: str) -> Document:
    for document in of_kind(documents, kind):
        if document["metadata"]["name"] == name:
            return document
    raise AssertionError(f"no {kind} {name}")


def maybe_named(documents: tuple[Document, ...], kind: str, name: str) -> Document | None:
    found = [d for d in of_kind(documents, kind) if d["metadata"]["name"] == name]
    return found[0] if found else None


def component_of(document: Document) -> str:
    return str(document["metadata"]["labels"].get("app.kubernetes.io/component", ""))


def pod_spec(document: Document) -> dict[str, Any]:
    if document["kind"] == "Pod":
        return dict(document["spec"])
    return dict(document["spec"]["template"]["spec"])


def pod_labels(document: Document) -> dict[str, str]:
    if document["kind"] == "Pod":
        return dict(document["metadata"]["labels"])
    return dict(document["spec"]["template"]["metadata"]["labels"])


def workloads(documents: tuple[Document, ...]) -> list[Document]:
    """Everything that runs a pod: Deployments, hook Jobs and the test Pod."""
    return [document for document in documents if document["kind"] in POD_KINDS]


def containers(document: Document) -> list[dict[str, Any]]:
    spec = pod_spec(document)
    return [*spec.get("initContainers", []), *spec["containers"]]


def deployment(documents: tuple[Document, ...], component: str) -> Document:
    return named(documents, "Deployment", f"{RELEASE}-{component}")


def env_names(container: dict[str, Any]) -> set[str]:
    return {item["name"] for item in container.get("env", [])}


def plain_env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())
