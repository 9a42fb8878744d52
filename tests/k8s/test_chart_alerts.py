"""The services' alerts: plain rule files that promtool checks and unit-tests as they are, and
that the chart's PrometheusRule includes unchanged unless values tune them."""

import re
from pathlib import Path

import pytest
import yaml

from tests.k8s import support
from tests.k8s.chart import CHART, of_kind, render, render_error
from tests.k8s.rules import alerts_in_files, rule_files, rule_test_files

# The final comparison of an expression: the part a tuned threshold replaces.
FINAL_COMPARISON = re.compile(r"(>=|<=|==|!=|>|<)\s*([-+0-9.eE]+)\s*$")


def rendered_alerts(*extra: str) -> dict[str, dict[str, object]]:
    (rule,) = of_kind(render("production-values.yaml", *extra), "PrometheusRule")
    return {item["alert"]: item for group in rule["spec"]["groups"] for item in group["rules"]}


def threshold_of(expr: str) -> float | None:
    found = FINAL_COMPARISON.search(expr)
    return float(found.group(2)) if found else None


def test_there_are_rule_files_and_tests() -> None:
    assert rule_files() and rule_test_files()


@pytest.mark.parametrize("path", rule_files(), ids=lambda path: path.name)
def test_promtool_accepts_each_rule_file(path: Path) -> None:
    support.run(support.tool("promtool"), "check", "rules", str(path))


@pytest.mark.parametrize("path", rule_test_files(), ids=lambda path: path.name)
def test_each_rule_test_file_passes(path: Path) -> None:
    support.run(support.tool("promtool"), "test", "rules", str(path), cwd=path.parent)


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in rule_test_files():
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test["alert_rule_test"]:
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    alerts = set(alerts_in_files())
    assert alerts - firing == set(), "no firing case"
    assert alerts - quiet == set(), "no quiet case"


def test_every_alert_says_how_bad_what_and_where_to_look() -> None:
    for name, rule in alerts_in_files().items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        for annotation in ("summary", "description", "runbook"):
            assert rule["annotations"].get(annotation), f"{name} has no {annotation}"


def test_the_chart_includes_the_rule_files_unchanged_by_default() -> None:
    rendered = rendered_alerts()
    for name, rule in alerts_in_files().items():
        item = rendered[name]
        assert item["expr"].strip() == rule["expr"].strip(), name  # type: ignore[union-attr]
        assert item.get("for") == rule.get("for"), name
        assert item["annotations"] == rule["annotations"], name
        # additionalLabels of ci/production-values.yaml join the file's labels.
        assert item["labels"] == {**rule["labels"], "team": "payments"}, name


def test_values_list_the_rule_files_defaults() -> None:
    """values.yaml documents each alert's threshold and duration: they must be the files'."""
    tuning = yaml.safe_load((CHART / "values.yaml").read_text())["metrics"]["prometheusRule"]
    expected = {}
    for name, rule in alerts_in_files().items():
        defaults = {"for": rule["for"]}
        threshold = threshold_of(rule["expr"])
        if threshold is not None:
            defaults["threshold"] = threshold
        expected[name] = defaults
    assert tuning["alerts"] == expected


def test_values_tune_a_threshold_and_a_duration(tmp_path: Path) -> None:
    rendered = rendered_alerts(
        "--set",
        "metrics.prometheusRule.alerts.PaymentsOutboxLagHigh.threshold=600",
        "--set",
        "metrics.prometheusRule.alerts.PaymentsOutboxLagHigh.for=30m",
        # --set would pass 0.125 as a string, which the schema refuses.
        "--set-json",
        "metrics.prometheusRule.alerts.PaymentsApiErrorRatioHigh.threshold=0.125",
    )
    outbox, api = rendered["PaymentsOutboxLagHigh"], rendered["PaymentsApiErrorRatioHigh"]
    assert threshold_of(str(outbox["expr"])) == 600 and outbox["for"] == "30m"
    assert threshold_of(str(api["expr"])) == 0.125
    untouched = alerts_in_files()["PaymentsFailureRatioHigh"]
    assert rendered["PaymentsFailureRatioHigh"]["expr"] == untouched["expr"].strip()
    # What Prometheus receives is still valid.
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "tuned", "rules": [outbox, api]}]}))
    support.run(support.tool("promtool"), "check", "rules", str(rules))


def test_the_worker_alert_watches_the_configured_task_queue() -> None:
    rendered = rendered_alerts("--set", "config.temporal.taskQueue=payments-blue")
    expr = str(rendered["PaymentsWorkerNotPolling"]["expr"])
    assert expr.count('task_queue="payments-blue"') == 2
    assert "payment-processing" not in expr


def test_the_schema_rejects_unknown_alerts_and_knobs() -> None:
    unknown_alert = "metrics.prometheusRule.alerts.PaymentsTypo.for=5m"
    assert "PaymentsTypo" in render_error("--set", unknown_alert)
    no_threshold = "metrics.prometheusRule.alerts.PaymentsWorkerNotPolling.threshold=1"
    assert "threshold" in render_error("--set", no_threshold)
    bad_duration = "metrics.prometheusRule.alerts.PaymentsOutboxLagHigh.for=soon"
    assert "for" in render_error("--set", bad_duration)
