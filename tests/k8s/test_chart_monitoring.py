"""ServiceMonitors, the PrometheusRule (checked and unit-tested with promtool) and the Grafana
dashboards."""

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.k8s import support
from tests.k8s.chart import (
    CHART,
    COMPONENTS,
    VALUES_FILES,
    Document,
    component_of,
    of_kind,
    render,
    selects,
)
from tests.k8s.rules import alerts_in_files

ALERT_TESTS = CHART / "tests" / "alerts.test.yaml"


def _enables_rules(values_file: str | None) -> bool:
    if values_file is None:
        return False
    values = yaml.safe_load((CHART / "ci" / values_file).read_text())
    return bool(values.get("metrics", {}).get("prometheusRule", {}).get("enabled"))


WITH_RULES = [name for name in VALUES_FILES if _enables_rules(name)]


def _rule_groups(documents: tuple[Document, ...]) -> str:
    (rule,) = of_kind(documents, "PrometheusRule")
    return yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False)


def test_monitoring_is_behind_toggles() -> None:
    documents = render(None)
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert of_kind(documents, kind) == [], kind
    labels = [config_map["metadata"]["labels"] for config_map in of_kind(documents, "ConfigMap")]
    assert not [label for label in labels if "grafana_dashboard" in label]


@pytest.mark.parametrize("values_file", ["kind-values.yaml", "production-values.yaml"])
def test_each_component_is_scraped_through_its_own_service(values_file: str) -> None:
    documents = render(values_file)
    monitors = of_kind(documents, "ServiceMonitor")
    assert {component_of(monitor) for monitor in monitors} == set(COMPONENTS)
    services = of_kind(documents, "Service")
    for monitor in monitors:
        selector = monitor["spec"]["selector"]["matchLabels"]
        (service,) = [s for s in services if selects(selector, s["metadata"]["labels"])]
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


@pytest.mark.parametrize("values_file", WITH_RULES, ids=lambda name: name or "defaults")
def test_promtool_accepts_the_rules(values_file: str | None, tmp_path: Path) -> None:
    promtool = support.tool("promtool")
    rules = tmp_path / "rules.yaml"
    rules.write_text(_rule_groups(render(values_file)))
    support.run(promtool, "check", "rules", str(rules))


def test_every_alert_passes_its_unit_test(tmp_path: Path) -> None:
    promtool = support.tool("promtool")
    (tmp_path / "rules.yaml").write_text(_rule_groups(render("production-values.yaml")))
    shutil.copy(ALERT_TESTS, tmp_path / ALERT_TESTS.name)
    support.run(promtool, "test", "rules", str(tmp_path / ALERT_TESTS.name))


def test_every_availability_alert_has_a_unit_test() -> None:
    """The templated alerts; the rule files' own tests are in test_chart_alerts."""
    (rule,) = of_kind(render("production-values.yaml"), "PrometheusRule")
    alerts = {item["alert"] for group in rule["spec"]["groups"] for item in group["rules"]}
    alerts -= set(alerts_in_files())
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert alerts == tested


def test_alerts_carry_severity_and_a_description() -> None:
    (rule,) = of_kind(render("production-values.yaml"), "PrometheusRule")
    for group in rule["spec"]["groups"]:
        for item in group["rules"]:
            assert item["labels"]["severity"] in {"warning", "critical"}, item["alert"]
            assert item["labels"]["team"] == "payments", item["alert"]
            assert item["annotations"]["summary"] and item["annotations"]["description"]


@pytest.mark.parametrize("values_file", ["kind-values.yaml", "production-values.yaml"])
def test_dashboards_are_grafana_json(values_file: str) -> None:
    maps = [
        item
        for item in of_kind(render(values_file), "ConfigMap")
        if item["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert len(maps) == len(list((CHART / "dashboards").glob("*.json")))
    uids = set()
    for config_map in maps:
        (content,) = config_map["data"].values()
        dashboard = json.loads(content)
        assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 36
        uids.add(dashboard["uid"])
        assert dashboard["panels"]
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), dashboard["uid"]
        for panel in dashboard["panels"]:
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
            assert {"h", "w", "x", "y"} <= panel["gridPos"].keys(), panel["title"]
    assert len(uids) == len(maps)


def test_generated_dashboards_are_up_to_date() -> None:
    support.run(sys.executable, "scripts/dashboards.py", "--check")


@pytest.mark.parametrize(
    "path", sorted((CHART / "dashboards").glob("*.json")), ids=lambda path: path.name
)
def test_every_query_goes_to_the_chosen_datasource(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    for panel in dashboard["panels"]:
        sources = [panel["datasource"], *(target["datasource"] for target in panel["targets"])]
        assert all(source["uid"] == "${datasource}" for source in sources), panel["title"]
