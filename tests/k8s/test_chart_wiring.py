"""How the chart's objects refer to each other: selectors, autoscaling, hooks, secrets, and the
checks that refuse contradictory values."""

import pytest

from tests.k8s.chart import (
    COMPONENTS,
    CONSUMERS,
    RELEASE,
    Document,
    component_of,
    containers,
    deployment,
    maybe_named,
    named,
    of_kind,
    plain_env,
    pod_labels,
    pod_spec,
    render,
    render_error,
    selects,
    workloads,
)

HOOK = "helm.sh/hook"
WEIGHT = "helm.sh/hook-weight"
DELETE_POLICY = "helm.sh/hook-delete-policy"


def test_each_service_selects_its_own_component_only(documents: tuple[Document, ...]) -> None:
    deployments = of_kind(documents, "Deployment")
    for service in of_kind(documents, "Service"):
        selector = service["spec"]["selector"]
        chosen = [d for d in deployments if selects(selector, pod_labels(d))]
        assert [component_of(d) for d in chosen] == [component_of(service)]
        target_ports = {port["targetPort"] for port in service["spec"]["ports"]}
        (container,) = containers(chosen[0])
        assert target_ports <= {port["name"] for port in container["ports"]}


def test_each_pdb_selects_its_own_component_only(documents: tuple[Document, ...]) -> None:
    deployments = of_kind(documents, "Deployment")
    budgets = of_kind(documents, "PodDisruptionBudget")
    assert {component_of(budget) for budget in budgets} == set(COMPONENTS)
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"]
        chosen = [d for d in deployments if selects(selector, pod_labels(d))]
        assert [component_of(d) for d in chosen] == [component_of(budget)]


def test_deployment_selectors_use_name_instance_and_component(
    documents: tuple[Document, ...],
) -> None:
    for item in of_kind(documents, "Deployment"):
        assert set(item["spec"]["selector"]["matchLabels"]) == {
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/component",
        }


def test_the_hpa_scales_the_api_deployment(documents: tuple[Document, ...]) -> None:
    for hpa in of_kind(documents, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{RELEASE}-api"}
        assert "replicas" not in deployment(documents, "api")["spec"]


def test_kind_scales_consumers_with_keda_on_the_emulator() -> None:
    documents = render("kind-values.yaml")
    for component in CONSUMERS:
        scaled = named(documents, "ScaledObject", f"{RELEASE}-{component}")
        assert scaled["spec"]["scaleTargetRef"]["name"] == f"{RELEASE}-{component}"
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "aws-sqs-queue"
        assert all(isinstance(value, str) for value in trigger["metadata"].values())
        endpoint = trigger["metadata"]["awsEndpoint"]
        assert endpoint.startswith("http://") and endpoint.endswith(".svc.cluster.local:4566")
        assert trigger["metadata"]["queueURL"].startswith(f"{endpoint}/123456789012/payment-")
        auth = named(documents, "TriggerAuthentication", trigger["authenticationRef"]["name"])
        params = {ref["parameter"]: ref["key"] for ref in auth["spec"]["secretTargetRef"]}
        assert params == {
            "awsAccessKeyID": "AWS_ACCESS_KEY_ID",
            "awsSecretAccessKey": "AWS_SECRET_ACCESS_KEY",
        }


def test_production_scales_consumers_with_keda_pod_identity() -> None:
    documents = render("production-values.yaml")
    for component in CONSUMERS:
        scaled = named(documents, "ScaledObject", f"{RELEASE}-{component}")
        (trigger,) = scaled["spec"]["triggers"]
        assert all(isinstance(value, str) for value in trigger["metadata"].values())
        assert "awsEndpoint" not in trigger["metadata"]
        assert trigger["metadata"]["awsRegion"] == "eu-west-1"
        assert trigger["metadata"]["queueURL"].startswith(
            "https://sqs.eu-west-1.amazonaws.com/123456789012/payment-"
        )
        auth = named(documents, "TriggerAuthentication", trigger["authenticationRef"]["name"])
        assert auth["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "workload"}}


def test_consumer_replicas_belong_to_keda_or_to_the_values(
    values_file: str | None, documents: tuple[Document, ...]
) -> None:
    scaled = {component_of(item) for item in of_kind(documents, "ScaledObject")}
    for component in CONSUMERS:
        spec = deployment(documents, component)["spec"]
        if component in scaled:
            assert "replicas" not in spec, component
        else:
            assert isinstance(spec["replicas"], int) and spec["replicas"] >= 1, component
    if values_file in (None, "gateway-api-values.yaml"):
        assert not scaled


def test_termination_grace_covers_the_drains(documents: tuple[Document, ...]) -> None:
    for component in CONSUMERS:
        workload = deployment(documents, component)
        (container,) = containers(workload)
        env = plain_env(container)
        needed = float(env["SQS_DRAIN_SECONDS"]) + float(env.get("WEBHOOK_TIMEOUT_SECONDS", 0))
        assert pod_spec(workload)["terminationGracePeriodSeconds"] >= needed + 5, component
    api = deployment(documents, "api")
    (container,) = containers(api)
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod_spec(api)["terminationGracePeriodSeconds"] >= pre_stop + 10 + 5


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("paymentProcessor.terminationGracePeriodSeconds=20", "at least 30"),
        ("webhookSender.sqs.drainSeconds=50", "at least 65"),
        ("api.terminationGracePeriodSeconds=10", "at least 20"),
    ],
)
def test_a_grace_period_shorter_than_the_drain_is_refused(flag: str, message: str) -> None:
    assert message in render_error("--set", flag)


KEDA_ON = ("--set", "keda.enabled=true", "--set-string", "config.aws.accountId=123456789012")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--set", "keda.enabled=true"), "KEDA needs the queue's URL"),
        ((*KEDA_ON, "--set", "keda.auth.type=secret"), "turn on aws.staticCredentials"),
        (
            (*KEDA_ON, "--set", "keda.auth.podIdentity.roleArn=arn:aws:iam::1:role/keda"),
            "mutually exclusive",
        ),
        (
            ("--set", "secrets.existingSecret=x", "--set", "secrets.databaseUrl=postgresql://h/db"),
            "not both",
        ),
        (("--set", "config.temporal.address="), "config.temporal.address"),
    ],
)
def test_contradictory_values_are_refused(flags: tuple[str, ...], message: str) -> None:
    assert message in render_error(*flags)


def test_an_account_id_must_be_quoted() -> None:
    """Unquoted, YAML reads 123456789012 as a float and the queue URL would say 1.23e+11."""
    assert "want string" in render_error("--set", "config.aws.accountId=123456789012")


def _hooks(documents: tuple[Document, ...]) -> dict[str, Document]:
    return {
        f"{item['kind']}/{item['metadata']['name']}": item
        for item in documents
        if HOOK in item["metadata"].get("annotations", {})
    }


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(
    documents: tuple[Document, ...],
) -> None:
    job = named(documents, "Job", f"{RELEASE}-migrations")
    annotations = job["metadata"]["annotations"]
    assert annotations[HOOK] == "pre-install,pre-upgrade"
    assert annotations[WEIGHT] == "0"
    assert annotations[DELETE_POLICY] == "before-hook-creation,hook-succeeded"
    (container,) = containers(job)
    assert container["command"] == ["python", "-m", "payments_core.migrations", "upgrade"]
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_hook_jobs_only_use_what_exists_before_them(documents: tuple[Document, ...]) -> None:
    """On a first install only hooks of a lower weight exist when a hook Job starts: its
    Secret, ServiceAccount (and no ConfigMap) must be among them, or be an existing Secret."""
    hooks = _hooks(documents)
    for job in of_kind(documents, "Job"):
        weight = int(job["metadata"]["annotations"][WEIGHT])
        earlier = {
            key
            for key, item in hooks.items()
            if int(item["metadata"]["annotations"].get(WEIGHT, "0")) < weight
            and "pre-install" in item["metadata"]["annotations"][HOOK]
        }
        spec = pod_spec(job)
        assert f"ServiceAccount/{spec['serviceAccountName']}" in earlier
        (container,) = containers(job)
        assert "envFrom" not in container
        for item in container["env"]:
            if "valueFrom" in item:
                assert item["valueFrom"]["secretKeyRef"]["optional"] is True, "fail fast"
                secret = item["valueFrom"]["secretKeyRef"]["name"]
                created_by_chart = maybe_named(documents, "Secret", secret) is not None
                assert not created_by_chart or f"Secret/{secret}" in earlier, secret


def test_the_hook_secret_holds_only_what_the_hooks_read() -> None:
    documents = render("kind-values.yaml")
    secret = named(documents, "Secret", f"{RELEASE}-hooks")
    assert set(secret["data"]) == {"DATABASE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert secret["metadata"]["annotations"][WEIGHT] == "-10"


def test_provisioning_is_an_optional_hook_before_the_migrations() -> None:
    assert maybe_named(render(None), "Job", f"{RELEASE}-provision") is None
    job = named(render("kind-values.yaml"), "Job", f"{RELEASE}-provision")
    assert job["metadata"]["annotations"][HOOK] == "pre-install,pre-upgrade"
    assert int(job["metadata"]["annotations"][WEIGHT]) < 0
    (container,) = containers(job)
    assert container["command"] == ["python", "-m", "payments_core.aws.provision"]


def test_an_existing_secret_replaces_the_charts_everywhere() -> None:
    documents = render("production-values.yaml")
    assert of_kind(documents, "Secret") == []
    references = set()
    for workload in workloads(documents):
        for container in containers(workload):
            for item in container.get("env", []):
                if "secretKeyRef" in item.get("valueFrom", {}):
                    references.add(item["valueFrom"]["secretKeyRef"]["name"])
            for source in container.get("envFrom", []):
                assert "secretRef" not in source
    for auth in of_kind(documents, "TriggerAuthentication"):
        for ref in auth["spec"].get("secretTargetRef", []):
            references.add(ref["name"])
    assert references == {"payments-secrets"}


def test_helm_test_pod_checks_the_api(documents: tuple[Document, ...]) -> None:
    pod = named(documents, "Pod", f"{RELEASE}-test-api")
    assert pod["metadata"]["annotations"][HOOK] == "test"
    (container,) = containers(pod)
    assert f"http://{RELEASE}-api:80/api/v1/health/ready" in container["command"][-1]


def test_service_accounts_carry_the_irsa_role() -> None:
    documents = render("production-values.yaml")
    account = named(documents, "ServiceAccount", f"{RELEASE}-payment-processor")
    role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role == "arn:aws:iam::123456789012:role/payments-processor"
    for workload in of_kind(documents, "Deployment"):
        name = pod_spec(workload)["serviceAccountName"]
        assert named(documents, "ServiceAccount", name)["metadata"]["name"] == name


def test_ingress_and_http_route_reach_the_api_service() -> None:
    ingress = named(render("production-values.yaml"), "Ingress", f"{RELEASE}-api")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": f"{RELEASE}-api", "port": {"name": "http"}}
    route = named(render("gateway-api-values.yaml"), "HTTPRoute", f"{RELEASE}-api")
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": f"{RELEASE}-api", "port": 80}]
    assert route["spec"]["parentRefs"][0]["name"] == "public"


def test_the_api_believes_x_forwarded_for_only_from_the_proxies_named() -> None:
    (default,) = containers(deployment(render(None), "api"))
    assert plain_env(default)["FORWARDED_ALLOW_IPS"] == ""  # nobody
    (behind_nginx,) = containers(deployment(render("production-values.yaml"), "api"))
    assert plain_env(behind_nginx)["FORWARDED_ALLOW_IPS"] == "10.20.64.0/18"
    assert "forwardedAllowIps" in render_error("--set", "api.forwardedAllowIps=*")


# The service names the processes give themselves outside Kubernetes (payments_core.telemetry).
SERVICE_NAMES = {
    "api": "payments-api",
    "worker": "payments-worker",
    "payment-processor": "payments-processor",
    "webhook-sender": "payments-webhook-sender",
}


def test_tracing_is_off_unless_a_collector_is_named() -> None:
    documents = render(None)
    config_map = named(documents, "ConfigMap", RELEASE)
    assert not [name for name in config_map["data"] if name.startswith("OTEL_")]
    for workload in workloads(documents):
        for container in containers(workload):
            assert not [name for name in plain_env(container) if name.startswith("OTEL_")]


def test_tracing_names_each_component_and_pod() -> None:
    endpoint = "http://collector.monitoring:4318"
    documents = render(None, "--set", f"config.tracing.otlpEndpoint={endpoint}")
    data = named(documents, "ConfigMap", RELEASE)["data"]
    assert data["OTEL_EXPORTER_OTLP_ENDPOINT"] == endpoint
    assert data["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert data["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    for component, service_name in SERVICE_NAMES.items():
        (container,) = containers(deployment(documents, component))
        env = plain_env(container)
        assert env["OTEL_SERVICE_NAME"] == service_name
        assert "k8s.pod.name=$(K8S_POD_NAME)" in env["OTEL_RESOURCE_ATTRIBUTES"]
        names = [entry["name"] for entry in container["env"]]
        # $(K8S_POD_NAME) expands only if that variable is defined earlier in the list.
        assert names.index("K8S_POD_NAME") < names.index("OTEL_RESOURCE_ATTRIBUTES")


def test_a_sample_ratio_outside_zero_to_one_is_refused() -> None:
    assert "sampleRatio" in render_error("--set-string", "config.tracing.sampleRatio=1.5")
