"""The services' alert rules as plain Prometheus rule files (charts/payments/rules), and their
promtool unit tests (rules/tests): what the chart tests and the whole-stack test share."""

from pathlib import Path
from typing import Any

import yaml

from tests.k8s.support import REPO

RULES_DIR = REPO / "charts" / "payments" / "rules"
RULE_TESTS_DIR = RULES_DIR / "tests"

Rule = dict[str, Any]


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yaml"))


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.test.yaml"))


def groups_of(path: Path) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(path.read_text())["groups"]
    return groups


def alerts_in_files() -> dict[str, Rule]:
    """Every alerting rule of the rule files, by alert name."""
    return {
        rule["alert"]: rule
        for path in rule_files()
        for group in groups_of(path)
        for rule in group["rules"]
        if "alert" in rule
    }
