"""NetworkPolicies: everything of the release is denied by default, then each component gets
DNS and only the services it talks to; the webhook sender alone reaches the internet."""

from typing import Any

from tests.k8s.chart import (
    RELEASE,
    Document,
    component_of,
    named,
    of_kind,
    pod_labels,
    render,
    selects,
    workloads,
)

Rule = dict[str, Any]


def _policies(documents: tuple[Document, ...]) -> dict[str, Document]:
    return {
        component_of(policy): policy
        for policy in of_kind(documents, "NetworkPolicy")
        if component_of(policy)
    }


def _ports(rule: Rule) -> set[int | str]:
    return {port["port"] for port in rule.get("ports", [])}


def _has_cidr(rule: Rule, cidr: str) -> bool:
    return any(peer.get("ipBlock", {}).get("cidr") == cidr for peer in rule.get("to", []))


def test_everything_of_the_release_is_denied_by_default(documents: tuple[Document, ...]) -> None:
    deny = named(documents, "NetworkPolicy", f"{RELEASE}-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    selector = deny["spec"]["podSelector"]["matchLabels"]
    policies = _policies(documents)
    for workload in workloads(documents):
        labels = pod_labels(workload)
        assert selects(selector, labels), workload["metadata"]["name"]
        allowing = [
            component
            for component, policy in policies.items()
            if selects(policy["spec"]["podSelector"]["matchLabels"], labels)
        ]
        assert allowing == [component_of(workload)], workload["metadata"]["name"]


def test_every_component_may_resolve_names(documents: tuple[Document, ...]) -> None:
    for component, policy in _policies(documents).items():
        dns = [rule for rule in policy["spec"]["egress"] if 53 in _ports(rule)]
        assert dns, component
        protocols = {port["protocol"] for rule in dns for port in rule["ports"]}
        assert protocols == {"UDP", "TCP"}, component


def test_only_the_webhook_sender_reaches_the_internet(documents: tuple[Document, ...]) -> None:
    for component, policy in _policies(documents).items():
        internet = [rule for rule in policy["spec"]["egress"] if _has_cidr(rule, "0.0.0.0/0")]
        if component == "webhook-sender":
            assert internet, "the webhook sender must reach merchants"
        else:
            assert not internet, component
            # Every other rule is limited by port at least.
            assert all(rule.get("ports") for rule in policy["spec"]["egress"]), component


def test_the_internet_excludes_private_ranges_by_default() -> None:
    for values_file in (None, "production-values.yaml"):
        policy = _policies(render(values_file))["webhook-sender"]
        (rule,) = [r for r in policy["spec"]["egress"] if _has_cidr(r, "0.0.0.0/0")]
        (peer,) = rule["to"]
        assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
            peer["ipBlock"]["except"]
        )


def test_each_component_reaches_only_its_services() -> None:
    policies = _policies(render(None))

    def egress_ports(component: str) -> set[int | str]:
        return {port for rule in policies[component]["spec"]["egress"] for port in _ports(rule)}

    assert egress_ports("api") == {53, 5432, 443, 7233}
    # 443: the payment processors of merchants' connectors (Stripe), networkPolicy.processors.
    assert egress_ports("worker") == {53, 5432, 7233, 443}
    assert egress_ports("payment-processor") == {53, 7233, 443}
    assert egress_ports("webhook-sender") == {53, 5432, 443}
    assert egress_ports("migrations") == {53, 5432}
    assert egress_ports("test") == {53, 3001}


def test_production_narrows_services_and_callers() -> None:
    policies = _policies(render("production-values.yaml"))
    for component in ("api", "worker", "webhook-sender", "migrations"):
        (database,) = [r for r in policies[component]["spec"]["egress"] if 5432 in _ports(r)]
        assert database["to"] == [{"ipBlock": {"cidr": "10.20.32.0/20"}}], component
    (api_ingress,) = policies["api"]["spec"]["ingress"]
    namespaces = [
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in api_ingress["from"]
        if "namespaceSelector" in peer
    ]
    assert namespaces == ["ingress-nginx", "monitoring"]
    assert any(
        peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component")
        == "test"
        for peer in api_ingress["from"]
    ), "helm test must still reach the API"
    (worker_ingress,) = policies["worker"]["spec"]["ingress"]
    assert worker_ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]


def test_hooks_and_the_test_pod_accept_no_traffic(documents: tuple[Document, ...]) -> None:
    for component in ("migrations", "provision", "test"):
        policy = _policies(documents).get(component)
        if policy is not None:
            assert policy["spec"]["ingress"] == [], component
