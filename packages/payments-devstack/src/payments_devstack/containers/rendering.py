"""The chart as `make kube-play` plays it: rendered with ci/podman-values.yaml and what the stack
chose, then changed only where podman 4.3 (Debian 12's) needs it:
- a container on the host's network may not declare `ports`, so they are dropped, and a probe
  naming a port gets its number instead;
- a played Secret cannot be read back by `secretKeyRef`, so Secrets are kept apart, to become
  podman secrets (`podman secret create`, from their `data` map) before anything is played;
- a Job is not a kind it plays, so each hook Job's pod template becomes a Pod.
Services, PodDisruptionBudgets, ServiceAccounts, HPAs, NetworkPolicies, ScaledObjects and the
`helm test` pod have nothing to act on one host and are left out.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from payments_devstack.containers.engine import REPO
from payments_devstack.containers.images import DEFAULT_TAG
from payments_devstack.environment import Ports
from payments_devstack.errors import DevstackError
from payments_devstack.services import APP_SERVICES

CHART = REPO / "charts" / "payments"
PODMAN_VALUES = CHART / "ci" / "podman-values.yaml"
RELEASE = "payments"
# What the chart renders that nothing plays on one host.
LEFT_OUT = {
    "Service", "ServiceAccount", "PodDisruptionBudget", "HorizontalPodAutoscaler",
    "NetworkPolicy", "ScaledObject", "TriggerAuthentication", "ServiceMonitor",
    "PrometheusRule", "Ingress", "HTTPRoute",
}  # fmt: skip
# The health ports `make up` gives the consumers, by the chart's value that sets each.
HEALTH_PORT_VALUES = {
    "worker": "worker",
    "processor": "paymentProcessor",
    "webhooks": "webhookSender",
}


@dataclass(frozen=True)
class Container:
    """One played container: podman names it <pod>-<container>."""

    pod: str
    name: str
    grace_seconds: int
    probes: Mapping[str, tuple[int, str]]

    @property
    def engine_name(self) -> str:
        return f"{self.pod}-{self.name}"


@dataclass
class Rendered:
    """The chart's objects, as podman can play them."""

    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    config_maps: list[dict[str, Any]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    left_out: set[str] = field(default_factory=set)  # kinds


def render(values_files: list[Path], *, helm: str) -> list[dict[str, Any]]:
    argv = [helm, "template", RELEASE, str(CHART), "--namespace", RELEASE]
    for values in values_files:
        argv += ["--values", str(values)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise DevstackError(f"helm template failed: {result.stderr.strip()}")
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def for_podman(documents: list[dict[str, Any]]) -> Rendered:
    rendered = Rendered()
    jobs = []
    for document in documents:
        kind, name = document["kind"], document["metadata"]["name"]
        if _hook(document) == "test":
            rendered.left_out.add(f"helm test {kind}")
        elif kind == "Secret":
            rendered.secrets[name] = dict(document.get("data") or {})
        elif kind == "ConfigMap":
            rendered.config_maps.append(document)
        elif kind == "Deployment":
            _podman_containers(document["spec"]["template"]["spec"])
            rendered.deployments.append(document)
        elif kind == "Job":
            jobs.append(document)
        elif kind in LEFT_OUT:
            rendered.left_out.add(kind)
        else:
            raise DevstackError(f"the chart rendered {kind} {name}, which kube-play cannot place")
    # Hooks in Helm's order: by weight, then by name.
    jobs.sort(key=lambda job: (_hook_weight(job), job["metadata"]["name"]))
    for job in jobs:
        template = copy.deepcopy(job["spec"]["template"])
        _podman_containers(template["spec"])
        rendered.hooks.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {**template.get("metadata", {}), "name": job["metadata"]["name"]},
                "spec": template["spec"],
            }
        )
    return rendered


def _hook(document: dict[str, Any]) -> str | None:
    hook: str | None = document["metadata"].get("annotations", {}).get("helm.sh/hook")
    return hook


def _hook_weight(job: dict[str, Any]) -> int:
    return int(job["metadata"].get("annotations", {}).get("helm.sh/hook-weight", "0"))


def _podman_containers(pod_spec: dict[str, Any]) -> None:
    """Drop `ports` (refused on the host network) and give probes the port numbers."""
    for container in pod_spec["containers"]:
        numbers = {port["name"]: port["containerPort"] for port in container.pop("ports", [])}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = container.get(probe, {}).get("httpGet")
            if get is not None and isinstance(get["port"], str):
                get["port"] = numbers[get["port"]]


def containers(deployments: list[dict[str, Any]]) -> list[Container]:
    """What `podman kube play` starts for the Deployments: one pod per Deployment, <name>-pod-0."""
    result = []
    for deployment in deployments:
        spec = deployment["spec"]["template"]["spec"]
        for container in spec["containers"]:
            probes = {
                probe: (container[probe]["httpGet"]["port"], container[probe]["httpGet"]["path"])
                for probe in ("startupProbe", "livenessProbe", "readinessProbe")
                if probe in container
            }
            result.append(
                Container(
                    pod=f"{deployment['metadata']['name']}-pod-0",
                    name=container["name"],
                    grace_seconds=int(spec.get("terminationGracePeriodSeconds", 30)),
                    probes=probes,
                )
            )
    return result


def stack_values(env: Mapping[str, str], service_env: Mapping[str, str]) -> dict[str, Any]:
    """What `make up` would hand its processes, as the chart's values."""
    ports = Ports.from_env(env)
    values: dict[str, Any] = {
        "image": {"tag": env.get("IMAGE_TAG") or DEFAULT_TAG},
        "config": {
            "aws": {"endpointUrl": service_env["AWS_ENDPOINT_URL"]},
            "temporal": {"address": service_env["TEMPORAL_ADDRESS"]},
            "webhookAllowPrivateUrls": service_env["WEBHOOK_ALLOW_PRIVATE_URLS"].lower()
            in ("1", "true", "yes"),
        },
        "secrets": {
            "databaseUrl": service_env["DATABASE_URL"],
            "adminApiToken": service_env["ADMIN_API_TOKEN"],
            "webhookEncryptionKey": service_env["WEBHOOK_ENCRYPTION_KEY"],
        },
        "api": {"port": ports.api.number, "env": {}},
        "webhookSender": {"env": {}},
    }
    if level := env.get("LOG_LEVEL"):
        values["config"]["logLevel"] = level
    for service in APP_SERVICES:
        if service.name in HEALTH_PORT_VALUES:
            component = values.setdefault(HEALTH_PORT_VALUES[service.name], {})
            component["metricsPort"] = service.health_port(env)
    if limit := env.get("RATE_LIMIT_PER_MINUTE"):
        values["api"]["env"]["RATE_LIMIT_PER_MINUTE"] = limit
    if schedule := env.get("WEBHOOK_RETRY_SCHEDULE"):
        values["webhookSender"]["env"]["WEBHOOK_RETRY_SCHEDULE"] = schedule
    return values


def helm_binary() -> str:
    pinned = REPO / ".tools" / "bin" / "helm"
    return str(pinned) if pinned.exists() else "helm"
