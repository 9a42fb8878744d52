"""The chart renders, lints and validates for its defaults and every ci/ values file, and every
pod it runs is locked down, probed, sized and given what its process reads."""

import re
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from payments_core.consumer.settings import ConsumerSettings
from payments_core.settings import (
    ApiSettings,
    CoreSettings,
    ProcessorSettings,
    ServiceSettings,
    WebhookSenderSettings,
    WorkerSettings,
)
from tests.k8s import support
from tests.k8s.chart import (
    CHART,
    COMPONENTS,
    RELEASE,
    Document,
    component_of,
    containers,
    deployment,
    env_names,
    named,
    of_kind,
    pod_spec,
    render_error,
    values_args,
    workloads,
)

# What each pod's process loads (the hook Jobs run the migrations and provisioning modules).
SETTINGS: dict[str, tuple[type[BaseSettings], ...]] = {
    "api": (ApiSettings,),
    "worker": (WorkerSettings,),
    "payment-processor": (ProcessorSettings, ConsumerSettings),
    "webhook-sender": (WebhookSenderSettings, ConsumerSettings),
    "migrations": (CoreSettings,),
    "provision": (ServiceSettings,),
}
PROBES = {
    "api": ("http", 3001, "/api/v1/health", "/api/v1/health/ready"),
    "worker": ("metrics", 9101, "/health", "/health"),
    "payment-processor": ("metrics", 9102, "/health", "/health"),
    "webhook-sender": ("metrics", 9103, "/health", "/health"),
}


def test_lint_strict(values_file: str | None) -> None:
    support.run(support.tool("helm"), "lint", "--strict", str(CHART), *values_args(values_file))


def test_every_object_is_valid(documents: tuple[Document, ...]) -> None:
    assert documents
    support.validate_all(documents)


def test_the_schema_rejects_unknown_keys() -> None:
    assert "additional properties 'foo' not allowed" in render_error("--set", "foo=bar")
    assert "additional properties 'replicas' not allowed" in render_error(
        "--set", "worker.replicas=3"
    )


def test_the_schema_rejects_the_deprecated_keda_provider() -> None:
    render_error("--set", "keda.auth.podIdentity.provider=aws-eks")


def test_every_object_carries_the_standard_labels(documents: tuple[Document, ...]) -> None:
    for document in documents:
        labels = document["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "payments"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"].startswith("payments-")


def test_every_container_is_locked_down(documents: tuple[Document, ...]) -> None:
    for workload in workloads(documents):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in containers(workload):
            context = container["securityContext"]
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert context["runAsNonRoot"] is True, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where


def test_every_container_writes_only_to_an_empty_dir_tmp(documents: tuple[Document, ...]) -> None:
    for workload in workloads(documents):
        volumes = {volume["name"]: volume for volume in pod_spec(workload)["volumes"]}
        for container in containers(workload):
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], workload["metadata"]["name"]


def test_every_container_has_requests_and_limits(documents: tuple[Document, ...]) -> None:
    for workload in workloads(documents):
        for container in containers(workload):
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), container["name"]
            assert "memory" in resources["limits"], container["name"]


def test_no_pod_mounts_a_service_account_token(documents: tuple[Document, ...]) -> None:
    for workload in workloads(documents):
        assert pod_spec(workload)["automountServiceAccountToken"] is False
    for account in of_kind(documents, "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("component", COMPONENTS)
def test_probes_ask_the_health_endpoints(documents: tuple[Document, ...], component: str) -> None:
    port_name, port, liveness, readiness = PROBES[component]
    (container,) = containers(deployment(documents, component))
    assert {"name": port_name, "containerPort": port, "protocol": "TCP"} in container["ports"]
    expected_paths = {"startupProbe": liveness, "livenessProbe": liveness}
    expected_paths["readinessProbe"] = readiness
    for probe, path in expected_paths.items():
        assert container[probe]["httpGet"] == {"path": path, "port": port_name}, probe


@pytest.mark.parametrize("component", ["worker", "payment-processor", "webhook-sender"])
def test_background_health_port_is_the_probed_port(
    documents: tuple[Document, ...], component: str
) -> None:
    (container,) = containers(deployment(documents, component))
    health_port = next(item["value"] for item in container["env"] if item["name"] == "HEALTH_PORT")
    assert int(health_port) == PROBES[component][1]


def _provided(documents: tuple[Document, ...], workload: Document) -> set[str]:
    (container,) = containers(workload)
    names = env_names(container)
    for source in container.get("envFrom", []):
        config_map = named(documents, "ConfigMap", source["configMapRef"]["name"])
        names |= set(config_map["data"])
    return names


def _fields(classes: tuple[type[BaseSettings], ...]) -> dict[str, Any]:
    return {name.upper(): f for cls in classes for name, f in cls.model_fields.items()}


def test_every_process_gets_the_settings_it_requires(documents: tuple[Document, ...]) -> None:
    for workload in workloads(documents):
        component = component_of(workload)
        if component not in SETTINGS:
            continue
        required = {name for name, f in _fields(SETTINGS[component]).items() if f.is_required()}
        missing = required - _provided(documents, workload)
        assert not missing, f"{component} lacks {sorted(missing)}"


def test_the_chart_sets_only_variables_the_processes_read(
    documents: tuple[Document, ...],
) -> None:
    """A misspelt variable would be ignored silently (extra="ignore"): catch it here."""
    aws_credentials = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # read by boto, not settings
    # Read by the OpenTelemetry SDK; K8S_POD_NAME only feeds OTEL_RESOURCE_ATTRIBUTES.
    read_elsewhere = aws_credentials | {"K8S_POD_NAME"}
    for workload in workloads(documents):
        component = component_of(workload)
        if component not in SETTINGS:
            continue
        (container,) = containers(workload)
        unknown = env_names(container) - _fields(SETTINGS[component]).keys() - read_elsewhere
        unknown -= {name for name in unknown if name.startswith("OTEL_")}
        assert not unknown, f"{component} sets {sorted(unknown)}"


def test_the_processor_gets_no_database_credentials(documents: tuple[Document, ...]) -> None:
    (container,) = containers(deployment(documents, "payment-processor"))
    assert "DATABASE_URL" not in env_names(container)


def test_a_component_env_cannot_hide_a_chart_variable() -> None:
    assert "change that value instead" in render_error("--set", "worker.env.HEALTH_PORT=1")


def test_readme_documents_every_top_level_key() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Za-z]+)[.`]", readme, flags=re.MULTILINE))
    assert set(values) <= documented, sorted(set(values) - documented)


def test_the_config_map_holds_only_settings_some_process_reads(
    documents: tuple[Document, ...],
) -> None:
    known = _fields(tuple(cls for classes in SETTINGS.values() for cls in classes)).keys()
    config_map = named(documents, "ConfigMap", RELEASE)
    unknown = {name for name in config_map["data"] if not name.startswith("OTEL_")} - known
    assert not unknown, sorted(unknown)


def _notes(*args: str) -> str:
    output = support.run(
        support.tool("helm"),
        "install",
        RELEASE,
        str(CHART),
        "--namespace",
        RELEASE,
        "--dry-run=client",
        *args,
    )
    return output.partition("NOTES:")[2]


def test_notes_warn_about_missing_secrets() -> None:
    notes = _notes()
    assert "WARNING" in notes and "secrets.databaseUrl (DATABASE_URL)" in notes
    assert "helm test payments" in notes
    assert "WARNING" not in _notes(*values_args("kind-values.yaml"))


def test_notes_ask_for_the_proxies_when_an_ingress_fronts_the_api() -> None:
    assert "api.forwardedAllowIps is empty" in _notes("--set", "api.ingress.enabled=true")
    assert "api.forwardedAllowIps" not in _notes(*values_args("production-values.yaml"))
    assert "api.forwardedAllowIps" not in _notes()  # port-forward: no proxy in front
