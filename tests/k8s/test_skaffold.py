"""skaffold.yaml, k8s/dev/skaffold.yaml and the Makefile's kind targets: the kind + skaffold loop.

No skaffold binary is available here, so the configs are checked against the part of skaffold's
v4beta13 schema they use (typos and misplaced keys fail), and against what they point at: the
Dockerfile and its build arguments, the chart and its values, the dev infrastructure's Services.
test_dockerfile.py checks each image's arguments against its workspace member.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.k8s.support import (
    DOCKERFILE,
    REPO,
    SKAFFOLD_CONFIG,
    load_all,
    parse_dockerfile,
    run,
    skaffold_artifacts,
    tool,
)

ROOT_CONFIG = SKAFFOLD_CONFIG
DEV_CONFIG = REPO / "k8s" / "dev" / "skaffold.yaml"
BEFORE_CHART = REPO / "k8s" / "dev" / "before-chart.sh"
CHART = "charts/payments"
KIND_VALUES = f"{CHART}/ci/kind-values.yaml"
PRODUCTION_VALUES = f"{CHART}/ci/production-values.yaml"
MINIMUM_API_VERSION = (4, "beta", 13)

# Chart values key of each component -> the image skaffold builds for it.
IMAGES = {
    "api": "payments-api",
    "worker": "payments-worker",
    "paymentProcessor": "payments-processor",
    "webhookSender": "payments-webhook-sender",
}
# Built by the dev infrastructure's config, for its own manifests (k8s/dev/aws-emulator.yaml).
DEV_IMAGES = {"payments-aws-emulator"}
IMAGE_FIELDS = ("FULLY_QUALIFIED", "REPO", "TAG", "DIGEST", "DOMAIN", "REPO_NO_DOMAIN")
TEMPLATE_VARIABLE = re.compile(r"\{\{\s*\.([A-Za-z0-9_]+)\s*\}\}")


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}
_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}
_STRING_MAP = {"type": "object", "additionalProperties": _STRING}
_REF = "#/definitions/"

# The subset of skaffold's v4beta13 JSON schema (docs-v2/content/en/schemas/v4beta13.json in
# GoogleContainerTools/skaffold) that these configs use, with its property names and
# additionalProperties: false. Using a field not listed here means adding it from that schema.
SKAFFOLD_SCHEMA: dict[str, Any] = {
    "$ref": _REF + "SkaffoldConfig",
    "definitions": {
        "SkaffoldConfig": _object(
            {
                "apiVersion": _STRING,
                "kind": {"const": "Config"},
                "metadata": _object({"name": _STRING, "labels": _STRING_MAP}),
                "requires": {"type": "array", "items": {"$ref": _REF + "ConfigDependency"}},
                "build": {"$ref": _REF + "BuildConfig"},
                "manifests": {"$ref": _REF + "RenderConfig"},
                "deploy": {"$ref": _REF + "DeployConfig"},
                "portForward": {"type": "array", "items": {"$ref": _REF + "PortForwardResource"}},
                "profiles": {"type": "array", "items": {"$ref": _REF + "Profile"}},
            },
            required=["apiVersion", "kind"],
        ),
        "ConfigDependency": _object({"configs": _STRINGS, "path": _STRING}),
        "BuildConfig": _object(
            {
                "artifacts": {"type": "array", "items": {"$ref": _REF + "Artifact"}},
                "tagPolicy": {"$ref": _REF + "TagPolicy"},
                "local": {"$ref": _REF + "LocalBuild"},
            }
        ),
        "Artifact": _object(
            {
                "image": _STRING,
                "context": _STRING,
                "docker": _object(
                    {
                        "dockerfile": _STRING,
                        "target": _STRING,
                        "buildArgs": _STRING_MAP,
                        "cacheFrom": _STRINGS,
                    }
                ),
            },
            required=["image"],
        ),
        "TagPolicy": {
            **_object(
                {
                    "gitCommit": _object(
                        {
                            "variant": {
                                "enum": [
                                    "Tags",
                                    "CommitSha",
                                    "AbbrevCommitSha",
                                    "TreeSha",
                                    "AbbrevTreeSha",
                                ]
                            },
                            "prefix": _STRING,
                            "ignoreChanges": _BOOL,
                        }
                    ),
                    "inputDigest": {"type": "object"},
                    "sha256": {"type": "object"},
                    "envTemplate": _object({"template": _STRING}, required=["template"]),
                }
            ),
            "maxProperties": 1,
        },
        "LocalBuild": _object(
            {
                "push": _BOOL,
                "tryImportMissing": _BOOL,
                "useDockerCLI": _BOOL,
                "useBuildkit": _BOOL,
                "concurrency": _INT,
            }
        ),
        "RenderConfig": _object(
            {
                "rawYaml": _STRINGS,
                "kustomize": _object({"paths": _STRINGS, "buildArgs": _STRINGS}),
            }
        ),
        "DeployConfig": _object(
            {
                "helm": {"$ref": _REF + "LegacyHelmDeploy"},
                # No `manifests` here in v4: they are the top-level `manifests` section.
                "kubectl": _object(
                    {
                        "defaultNamespace": _STRING,
                        "flags": _object(
                            {
                                "global": _STRINGS,
                                "apply": _STRINGS,
                                "delete": _STRINGS,
                                "disableValidation": _BOOL,
                            }
                        ),
                        "hooks": {"$ref": _REF + "DeployHooks"},
                    }
                ),
                "statusCheck": _BOOL,
                "statusCheckDeadlineSeconds": _INT,
                "tolerateFailuresUntilDeadline": _BOOL,
                "kubeContext": _STRING,
            }
        ),
        "LegacyHelmDeploy": _object(
            {
                "concurrency": _INT,
                "releases": {"type": "array", "items": {"$ref": _REF + "HelmRelease"}},
                "flags": _object({"global": _STRINGS, "install": _STRINGS, "upgrade": _STRINGS}),
                "hooks": {"$ref": _REF + "DeployHooks"},
            }
        ),
        "HelmRelease": _object(
            {
                "name": _STRING,
                "chartPath": _STRING,
                "remoteChart": _STRING,
                "repo": _STRING,
                "version": _STRING,
                "namespace": _STRING,
                "createNamespace": _BOOL,
                "valuesFiles": _STRINGS,
                "setValues": _STRING_MAP,
                "setValueTemplates": _STRING_MAP,
                "wait": _BOOL,
                "upgradeOnChange": _BOOL,
                "skipBuildDependencies": _BOOL,
                "dependsOn": _STRINGS,
            },
            required=["name"],
        ),
        "DeployHooks": _object(
            {
                "before": {"type": "array", "items": {"$ref": _REF + "DeployHookItem"}},
                "after": {"type": "array", "items": {"$ref": _REF + "DeployHookItem"}},
            }
        ),
        "DeployHookItem": _object(
            {
                "host": _object(
                    {"command": _STRINGS, "os": _STRINGS, "dir": _STRING}, required=["command"]
                )
            }
        ),
        "PortForwardResource": _object(
            {
                "resourceType": _STRING,
                "resourceName": _STRING,
                "namespace": _STRING,
                "port": {"type": ["integer", "string"]},
                "address": _STRING,
                "localPort": _INT,
            }
        ),
        "Profile": _object(
            {
                "name": _STRING,
                "activation": {
                    "type": "array",
                    "items": _object({"env": _STRING, "kubeContext": _STRING, "command": _STRING}),
                },
                "requiresAllActivations": _BOOL,
                "patches": {
                    "type": "array",
                    "items": _object(
                        {
                            "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
                            "path": _STRING,
                            "from": _STRING,
                            "value": {},
                        },
                        required=["path"],
                    ),
                },
                "build": {"$ref": _REF + "BuildConfig"},
                "manifests": {"$ref": _REF + "RenderConfig"},
                "deploy": {"$ref": _REF + "DeployConfig"},
                "portForward": {"type": "array", "items": {"$ref": _REF + "PortForwardResource"}},
            },
            required=["name"],
        ),
    },
}


def load_config(path: Path) -> dict[str, Any]:
    [config] = load_all(path.read_text())
    return config


@pytest.fixture(scope="module")
def root() -> dict[str, Any]:
    return load_config(ROOT_CONFIG)


@pytest.fixture(scope="module")
def dev() -> dict[str, Any]:
    return load_config(DEV_CONFIG)


def profile(config: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [p for p in config["profiles"] if p["name"] == name]
    return found


def only_release(deploy: dict[str, Any]) -> dict[str, Any]:
    [release] = deploy["helm"]["releases"]
    return release


def sanitized(image: str) -> str:
    """The artifact's name in skaffold's template variables: / - . : become _."""
    return re.sub(r"[/\-.:]", "_", image)


def api_version(value: str) -> tuple[int, str, int]:
    found = re.fullmatch(r"skaffold/v(\d+)(?:(alpha|beta)(\d+))?", value)
    assert found, value
    major, stage, number = found.groups()
    # alpha < beta < a final version.
    return (int(major), stage or "~", int(number or 0))


def has_key(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


# The configs themselves


@pytest.mark.parametrize("path", [ROOT_CONFIG, DEV_CONFIG], ids=["root", "dev-infra"])
def test_config_matches_skaffold_v4beta13_schema(path: Path) -> None:
    jsonschema.Draft7Validator.check_schema(SKAFFOLD_SCHEMA)
    jsonschema.validate(load_config(path), SKAFFOLD_SCHEMA)


@pytest.mark.parametrize("path", [ROOT_CONFIG, DEV_CONFIG], ids=["root", "dev-infra"])
def test_api_version_is_v4beta13_or_newer(path: Path) -> None:
    assert api_version(load_config(path)["apiVersion"]) >= MINIMUM_API_VERSION


def test_api_version_order() -> None:
    assert api_version("skaffold/v4beta13") < api_version("skaffold/v4beta14")
    assert api_version("skaffold/v4beta9") < api_version("skaffold/v4beta13")
    assert api_version("skaffold/v4beta13") < api_version("skaffold/v4")


def test_root_requires_the_dev_infrastructure_config(
    root: dict[str, Any], dev: dict[str, Any]
) -> None:
    [dependency] = root["requires"]
    assert (REPO / dependency["path"]).resolve() == DEV_CONFIG
    assert dependency["configs"] == [dev["metadata"]["name"]]


def test_dev_infra_applies_the_kustomization_with_kubectl(dev: dict[str, Any]) -> None:
    # A required config's paths are relative to its own file.
    for path in dev["manifests"]["kustomize"]["paths"]:
        assert (DEV_CONFIG.parent / path / "kustomization.yaml").exists()
    assert "kubectl" in dev["deploy"]
    assert "helm" not in dev["deploy"]


# Build


def test_the_chart_images_are_built_by_the_root_config_and_the_emulator_by_dev_infra(
    root: dict[str, Any], dev: dict[str, Any]
) -> None:
    assert {a["image"] for a in root["build"]["artifacts"]} == set(IMAGES.values())
    assert {a["image"] for a in dev["build"]["artifacts"]} == DEV_IMAGES


def test_every_artifact_is_built_from_the_repository_root_with_the_one_dockerfile() -> None:
    artifacts = skaffold_artifacts()
    assert {a.image for a in artifacts} == {*IMAGES.values(), *DEV_IMAGES}
    for artifact in artifacts:
        # A required config's paths are relative to its own file: k8s/dev's context is ../..
        assert artifact.context == REPO, artifact.image
        assert artifact.dockerfile == DOCKERFILE, artifact.image
    assert DOCKERFILE.is_file()


def test_build_args_are_the_dockerfiles_arguments() -> None:
    """Every argument without a default is given (or its instructions would read it empty), and
    none that the Dockerfile does not declare (Docker warns and ignores it)."""
    dockerfile = parse_dockerfile()
    declared = [
        instruction.words()[0].partition("=")
        for each in dockerfile.stages
        for instruction in each.all("ARG")
    ]
    required = {name for name, equals, _ in declared if not equals}
    known = {name for name, _, _ in declared} | set(dockerfile.arguments)
    assert required == {"PACKAGE", "SOURCE", "MODULE", "PORT"}
    for artifact in skaffold_artifacts():
        given = {name for name, _ in artifact.build_args}
        assert required <= given <= known, artifact.image
        assert given.isdisjoint(dockerfile.arguments), "the bases keep their pinned defaults"


def test_each_image_is_named_after_the_member_it_installs() -> None:
    for artifact in skaffold_artifacts():
        args = dict(artifact.build_args)
        assert artifact.image == args["PACKAGE"]
        assert args["MODULE"] == args["PACKAGE"].replace("-", "_"), artifact.image


@pytest.mark.parametrize("name", ["root", "dev-infra"])
def test_buildkit_is_on_when_the_dockerfile_needs_it(
    root: dict[str, Any], dev: dict[str, Any], name: str
) -> None:
    assert "--mount=" in DOCKERFILE.read_text()
    config = root if name == "root" else dev
    assert config["build"]["local"]["useBuildkit"] is True
    if name == "root":
        for profile_name in ("kind", "production-like"):
            assert profile(root, profile_name)["build"]["local"]["useBuildkit"] is True


def test_every_artifact_is_deployed(root: dict[str, Any]) -> None:
    """An image nothing runs is a wasted build: the chart's values name each root artifact, and
    the dev infrastructure's manifests each of its own (skaffold replaces the name with the
    built image)."""
    templates = " ".join(only_release(root["deploy"])["setValueTemplates"].values())
    for image in IMAGES.values():
        assert f".IMAGE_REPO_{sanitized(image)}" in templates, image
    rendered = load_all(run(tool("kubectl"), "kustomize", str(DEV_CONFIG.parent)))
    images = {
        container["image"]
        for document in rendered
        if document["kind"] in {"Deployment", "StatefulSet"}
        for container in document["spec"]["template"]["spec"]["containers"]
    }
    assert images >= DEV_IMAGES


def test_dev_loop_tags_by_content(root: dict[str, Any], dev: dict[str, Any]) -> None:
    assert root["build"]["tagPolicy"] == {"inputDigest": {}}
    assert dev["build"]["tagPolicy"] == {"inputDigest": {}}


# Deploy: the chart with the images just built


def test_chart_release_uses_the_kind_values(root: dict[str, Any]) -> None:
    release = only_release(root["deploy"])
    assert release["chartPath"] == CHART
    assert release["valuesFiles"] == [KIND_VALUES]
    assert release["namespace"] == "payments"


@pytest.mark.parametrize("name", ["base", "production-like"])
def test_set_value_templates_name_each_image(root: dict[str, Any], name: str) -> None:
    deploy = root["deploy"] if name == "base" else profile(root, name)["deploy"]
    templates = only_release(deploy)["setValueTemplates"]
    for component, image in IMAGES.items():
        variable = sanitized(image)
        assert templates[f"{component}.image.repository"] == f"{{{{.IMAGE_REPO_{variable}}}}}"
        assert templates[f"{component}.image.tag"] == f"{{{{.IMAGE_TAG_{variable}}}}}"


def test_template_variables_name_built_artifacts(root: dict[str, Any]) -> None:
    known = {
        f"IMAGE_{field}_{sanitized(artifact['image'])}"
        for field in IMAGE_FIELDS
        for artifact in root["build"]["artifacts"]
    }
    deploys = [root["deploy"]] + [p["deploy"] for p in root["profiles"] if "deploy" in p]
    for deploy in deploys:
        for value in only_release(deploy)["setValueTemplates"].values():
            for variable in TEMPLATE_VARIABLE.findall(value):
                assert variable in known, variable


@pytest.mark.parametrize("values_file", [KIND_VALUES, PRODUCTION_VALUES])
def test_values_files_exist(values_file: str) -> None:
    assert (REPO / values_file).is_file()


def test_every_key_skaffold_sets_is_a_chart_value(root: dict[str, Any]) -> None:
    values_path = REPO / CHART / "values.yaml"
    values = yaml.safe_load(values_path.read_text())
    deploys = [root["deploy"]] + [p["deploy"] for p in root["profiles"] if "deploy" in p]
    for deploy in deploys:
        release = only_release(deploy)
        for key in [*release.get("setValues", {}), *release["setValueTemplates"]]:
            assert has_key(values, key), f"{key} is not in {CHART}/values.yaml"


def test_chart_waits_for_keda_and_the_dev_infrastructure(
    root: dict[str, Any], dev: dict[str, Any]
) -> None:
    [hook] = root["deploy"]["helm"]["hooks"]["before"]
    command = hook["host"]["command"]
    assert command == ["sh", str(BEFORE_CHART.relative_to(REPO))]
    syntax = ["sh", "-n", str(BEFORE_CHART)]
    result = subprocess.run(syntax, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    script = BEFORE_CHART.read_text()
    assert "scaledobjects.keda.sh" in script
    rendered = load_all(run(tool("kubectl"), "kustomize", str(DEV_CONFIG.parent)))
    workloads = {
        f"{d['kind'].lower()}/{d['metadata']['name']}": d["metadata"]["namespace"]
        for d in rendered
        if d["kind"] in {"Deployment", "StatefulSet"}
    }
    waited = re.findall(r"\b((?:statefulset|deployment)/[a-z0-9-]+)", script)
    needed = {"statefulset/postgresql", "deployment/temporal", "deployment/aws-emulator"}
    assert needed <= set(waited)
    for workload in waited:
        assert workload in workloads, workload
        assert f"--namespace {workloads[workload]}" in script


# Port forwards: API 3001, Temporal UI 8088, Grafana 3000


def test_port_forwards_cover_api_temporal_ui_and_grafana(
    root: dict[str, Any], dev: dict[str, Any]
) -> None:
    forwards = root["portForward"] + dev["portForward"]
    assert sorted(f["localPort"] for f in forwards) == [3000, 3001, 8088]
    for forward in forwards:
        assert forward["resourceType"] == "service"
        assert forward["namespace"]


def test_dev_infra_port_forwards_target_real_service_ports(dev: dict[str, Any]) -> None:
    rendered = load_all(run(tool("kubectl"), "kustomize", str(DEV_CONFIG.parent)))
    services = {
        (d["metadata"]["namespace"], d["metadata"]["name"]): {p["port"] for p in d["spec"]["ports"]}
        for d in rendered
        if d["kind"] == "Service"
    }
    for forward in dev["portForward"]:
        key = (forward["namespace"], forward["resourceName"])
        assert key in services, key
        assert forward["port"] in services[key], forward


def test_api_port_forward_targets_the_charts_api_service(root: dict[str, Any]) -> None:
    [forward] = root["portForward"]
    release = only_release(root["deploy"])
    assert forward["namespace"] == release["namespace"]
    result = subprocess.run(
        [
            tool("helm"),
            "template",
            release["name"],
            str(REPO / CHART),
            "--namespace",
            release["namespace"],
            "--values",
            str(REPO / KIND_VALUES),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    services = {
        d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]}
        for d in load_all(result.stdout)
        if d["kind"] == "Service"
    }
    assert forward["resourceName"] in services, sorted(services)
    assert forward["port"] in services[forward["resourceName"]]


# Profiles


def test_kind_profile_turns_on_for_kind_contexts_only(root: dict[str, Any]) -> None:
    kind = profile(root, "kind")
    [activation] = kind["activation"]
    # skaffold matches kubeContext as an unanchored Go regexp (or an exact string).
    pattern = re.compile(activation["kubeContext"])
    makefile = (REPO / "Makefile").read_text()
    cluster = re.search(r"^KIND_CLUSTER \?= (\S+)$", makefile, re.MULTILINE)
    assert cluster
    assert pattern.search(f"kind-{cluster.group(1)}")
    for other in ("minikube", "docker-desktop", "arn:aws:eks:eu-west-1:1:cluster/kind-of-prod"):
        assert not pattern.search(other), other
    assert kind["build"]["local"]["push"] is False


def test_production_like_profile_pushes_and_skips_the_dev_infrastructure(
    root: dict[str, Any],
) -> None:
    production = profile(root, "production-like")
    # The patch has to find /requires, or skaffold rejects the profile.
    assert "requires" in root
    assert {"op": "remove", "path": "/requires"} in production["patches"]
    assert production["build"]["local"]["push"] is True
    assert "gitCommit" in production["build"]["tagPolicy"]
    release = only_release(production["deploy"])
    assert release["chartPath"] == CHART
    assert release["valuesFiles"] == [PRODUCTION_VALUES]
    # A profile's deploy.helm replaces the base one whole: no dev-infra wait hook.
    assert "hooks" not in production["deploy"]["helm"]
    for component, image in IMAGES.items():
        digest = f"{{{{.IMAGE_DIGEST_{sanitized(image)}}}}}"
        assert release["setValueTemplates"][f"{component}.image.digest"] == digest


def test_full_repositories_are_not_prefixed_again(root: dict[str, Any]) -> None:
    deploys = [root["deploy"], profile(root, "production-like")["deploy"]]
    for deploy in deploys:
        assert only_release(deploy)["setValues"] == {"image.registry": ""}


# The Makefile's kind targets


def make() -> str:
    found = shutil.which("make")
    if found is None:
        pytest.skip("make not installed")
    return found


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("kind-up", ["kind create cluster --name payments --config k8s/kind/cluster.yaml"]),
        ("kind-up", ["bash scripts/cluster-addons.sh --kube-prometheus-stack"]),
        ("kind-down", ["kind delete cluster --name payments"]),
        ("chart-lint", ["lint --strict", f"{CHART}"]),
        ("chart-test", ["uv run pytest -q tests/k8s"]),
    ],
)
def test_make_target_dry_run(target: str, expected: list[str]) -> None:
    output = run(make(), "-n", target)
    for fragment in expected:
        assert fragment in output, f"{fragment!r} not in `make -n {target}`:\n{output}"


def test_make_chart_lint_covers_every_ci_values_file() -> None:
    output = run(make(), "-n", "chart-lint")
    for values in sorted((REPO / CHART / "ci").glob("*.yaml")):
        assert str(values.relative_to(REPO)) in output


def test_kind_targets_are_phony() -> None:
    phony = re.search(r"^\.PHONY:(.*)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert phony
    assert {"kind-up", "kind-down", "chart-lint", "chart-test"} <= set(phony.group(1).split())


@pytest.mark.parametrize("target", ["kind-up", "kind-down"])
def test_kind_targets_fail_fast_without_kind_or_docker(target: str, tmp_path: Path) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    # PATH without kind or docker; USER_BIN and HOME keep the Makefile from adding any back.
    env = {"PATH": str(empty_bin), "HOME": str(tmp_path), "LANG": os.environ.get("LANG", "C")}
    result = subprocess.run(
        [make(), "--no-print-directory", "USER_BIN=/nonexistent", target],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode != 0
    assert result.stdout == "", "nothing ran before the check"
    ours = [line for line in result.stderr.splitlines() if "***" not in line]
    assert len(ours) == 1, result.stderr
    [line] = ours
    assert line.startswith(f"{target}: not found: kind docker."), line
    assert "make up" in line
