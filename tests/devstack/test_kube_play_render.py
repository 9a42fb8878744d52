"""What `make kube-play` plays: the chart's own objects, changed only where podman 4.3 needs it,
and `make up`'s variables carried into the chart's values. No container engine needed."""

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from payments_devstack.containers.rendering import (
    PODMAN_VALUES,
    Rendered,
    containers,
    for_podman,
    render,
    stack_values,
)
from payments_devstack.errors import DevstackError
from tests.k8s.support import tool

SERVICE_ENV = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:15432/payments",
    "ADMIN_API_TOKEN": "an-admin-token-of-the-stack",
    "WEBHOOK_ENCRYPTION_KEY": "a2luZC1kZXYtb25seS13ZWJob29rLWtleS0zMmJ5dGU=",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:14566",
    "TEMPORAL_ADDRESS": "127.0.0.1:17233",
    "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
}
USER_ENV = {
    "API_PORT": "13001",
    "WORKER_HEALTH_PORT": "19101",
    "PROCESSOR_HEALTH_PORT": "19102",
    "WEBHOOKS_HEALTH_PORT": "19103",
    "RATE_LIMIT_PER_MINUTE": "7",
    "WEBHOOK_RETRY_SCHEDULE": "1,5,30",
    "LOG_LEVEL": "DEBUG",
    "IMAGE_TAG": "test",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    overrides = tmp_path_factory.mktemp("values") / "values.yaml"
    overrides.write_text(yaml.safe_dump(stack_values(USER_ENV, SERVICE_ENV)))
    return for_podman(render([PODMAN_VALUES, overrides], helm=tool("helm")))


def container(rendered: Rendered, component: str) -> dict[str, Any]:
    (deployment,) = [
        d for d in rendered.deployments if d["metadata"]["labels"].get(
            "app.kubernetes.io/component") == component
    ]  # fmt: skip
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def plain_env(of: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in of.get("env", []) if "value" in e}


def test_four_deployments_two_hook_pods_in_weight_order_and_the_rest_left_out(
    rendered: Rendered,
) -> None:
    assert len(rendered.deployments) == 4
    assert [pod["metadata"]["name"] for pod in rendered.hooks] == [
        "payments-provision",  # weight -5
        "payments-migrations",  # weight 0
    ]
    assert all(pod["kind"] == "Pod" for pod in rendered.hooks)
    assert all(pod["spec"]["restartPolicy"] == "Never" for pod in rendered.hooks)
    kinds = rendered.left_out
    assert "Deployment" not in kinds and "Job" not in kinds
    assert {"Service", "PodDisruptionBudget", "ServiceAccount", "NetworkPolicy"} <= kinds
    assert "helm test Pod" in kinds


def test_no_container_declares_ports_and_every_probe_has_a_number(rendered: Rendered) -> None:
    pods = [d["spec"]["template"]["spec"] for d in rendered.deployments]
    pods += [hook["spec"] for hook in rendered.hooks]
    for pod in pods:
        assert pod["hostNetwork"] is True
        for each in pod["containers"]:
            assert "ports" not in each
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if probe in each:
                    assert isinstance(each[probe]["httpGet"]["port"], int)
    probes = {c.name: c.probes for c in containers(rendered.deployments)}
    assert probes["api"]["readinessProbe"] == (13001, "/api/v1/health/ready")
    assert probes["worker"]["livenessProbe"] == (19101, "/health")
    assert probes["payment-processor"]["startupProbe"] == (19102, "/health")
    assert probes["webhook-sender"]["readinessProbe"] == (19103, "/health")


def test_the_chart_security_context_volumes_and_images_are_untouched(rendered: Rendered) -> None:
    for deployment in rendered.deployments:
        spec = deployment["spec"]["template"]["spec"]
        (each,) = spec["containers"]
        assert each["securityContext"]["readOnlyRootFilesystem"] is True
        assert each["securityContext"]["runAsUser"] == 10001
        assert each["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert {"name": "tmp", "mountPath": "/tmp"} in each["volumeMounts"]
        assert each["image"].startswith("localhost/payments-") and each["image"].endswith(":test")
        assert each["imagePullPolicy"] == "Never"
        assert spec["terminationGracePeriodSeconds"] >= 30


def test_the_secrets_become_podman_secrets_with_the_stacks_values(rendered: Rendered) -> None:
    assert set(rendered.secrets) == {"payments", "payments-hooks"}
    decoded = {k: base64.b64decode(v).decode() for k, v in rendered.secrets["payments"].items()}
    assert decoded["DATABASE_URL"] == SERVICE_ENV["DATABASE_URL"]
    assert decoded["ADMIN_API_TOKEN"] == SERVICE_ENV["ADMIN_API_TOKEN"]
    assert decoded["WEBHOOK_ENCRYPTION_KEY"] == SERVICE_ENV["WEBHOOK_ENCRYPTION_KEY"]
    hooks = {k: base64.b64decode(v).decode() for k, v in rendered.secrets["payments-hooks"].items()}
    assert hooks["DATABASE_URL"] == SERVICE_ENV["DATABASE_URL"]
    # Nothing secret is left in what is played.
    played = yaml.safe_dump_all([*rendered.config_maps, *rendered.deployments, *rendered.hooks])
    assert SERVICE_ENV["ADMIN_API_TOKEN"] not in played
    assert "15432" not in played


def test_make_ups_variables_reach_the_processes(rendered: Rendered) -> None:
    (config_map,) = rendered.config_maps
    data = config_map["data"]
    assert data["AWS_ENDPOINT_URL"] == SERVICE_ENV["AWS_ENDPOINT_URL"]
    assert data["TEMPORAL_ADDRESS"] == SERVICE_ENV["TEMPORAL_ADDRESS"]
    assert data["WEBHOOK_ALLOW_PRIVATE_URLS"] == "true"
    assert data["LOG_LEVEL"] == "DEBUG"
    api = plain_env(container(rendered, "api"))
    assert api["API_PORT"] == "13001" and api["API_HOST"] == "127.0.0.1"
    assert api["RATE_LIMIT_PER_MINUTE"] == "7"
    assert plain_env(container(rendered, "webhook-sender"))["WEBHOOK_RETRY_SCHEDULE"] == "1,5,30"
    assert plain_env(container(rendered, "worker"))["HEALTH_PORT"] == "19101"


def test_private_webhook_urls_can_be_refused(tmp_path: Path) -> None:
    overrides = tmp_path / "values.yaml"
    env = {**SERVICE_ENV, "WEBHOOK_ALLOW_PRIVATE_URLS": "false"}
    overrides.write_text(yaml.safe_dump(stack_values({}, env)))
    (config_map,) = for_podman(render([PODMAN_VALUES, overrides], helm=tool("helm"))).config_maps
    assert config_map["data"]["WEBHOOK_ALLOW_PRIVATE_URLS"] == "false"


def test_an_object_kube_play_cannot_place_stops_it() -> None:
    stateful = {"kind": "StatefulSet", "metadata": {"name": "unexpected"}}
    with pytest.raises(DevstackError, match="StatefulSet"):
        for_podman([stateful])
