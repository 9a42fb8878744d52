"""The chart's dashboards and alerts against a real Prometheus scraping the real services.

`make up`'s stack runs one completing and one declined payment twice (the first round creates
the series, the second moves them, so rates are above zero); Prometheus scrapes the four
/metrics every second and evaluates the chart's rule files. Then every dashboard query and alert
expression must run, the key panels must show the payments, the rules must load healthy, and
every metric they name must be one the services export.
"""

import json
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.k8s.rules import alerts_in_files, rule_files
from tests.k8s.support import REPO, tool
from tests.observability.prometheus import Prometheus, Sample, running_prometheus
from tests.observability.promql import (
    exported_names,
    metric_names,
    substitute_grafana_variables,
)
from tests.stack.support import DevStack, running_devstack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]

DASHBOARDS_DIR = REPO / "charts" / "payments" / "dashboards"
# Built on kube-state-metrics and cAdvisor, which only a cluster has: their queries must still
# run, and name nothing else.
CLUSTER_DASHBOARDS = ("kubernetes.json", "scaling.json")
CLUSTER_METRIC_PREFIXES = ("kube_", "container_")
DECLINED_CARD = "4000000000000002"  # CONTRACT.md §1: declines with card_declined
TERMINAL = ("completed", "failed", "cancelled")
WAIT_SECONDS = 60.0


@dataclass
class Observed:
    stack: DevStack
    prometheus: Prometheus


@dataclass(frozen=True)
class Target:
    dashboard: str
    panel: str
    ref: str
    expr: str


def dashboard_targets() -> list[Target]:
    targets = []
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                expr = substitute_grafana_variables(target["expr"])
                targets.append(Target(path.name, panel["title"], target["refId"], expr))
    return targets


def panel(dashboard: str, title: str, ref: str = "A") -> str:
    (found,) = [
        target.expr
        for target in dashboard_targets()
        if (target.dashboard, target.panel, target.ref) == (dashboard, title, ref)
    ]
    return found


def positive(value: float) -> bool:
    return value > 0


def values(samples: list[Sample]) -> list[float]:
    return [float(sample["value"][1]) for sample in samples]


def eventually(check: Callable[[], str | None], what: str) -> None:
    """Polls `check` (None when satisfied, else what is still wrong) for up to a minute."""
    deadline = time.monotonic() + WAIT_SECONDS
    while (problem := check()) is not None:
        assert time.monotonic() < deadline, f"{what}: {problem}"
        time.sleep(0.5)


class Merchant:
    def __init__(self, stack: DevStack) -> None:
        self.headers = {"X-API-Key": stack.demo["api_key"]}
        self.client = httpx.Client(base_url=stack.api_url, timeout=10)

    def register_card(self, number: str) -> str:
        card = {"number": number, "expMonth": 12, "expYear": 2030, "cvc": "123"}
        response = self.client.post(
            "/payment-methods", json={"type": "card", "card": card}, headers=self.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])

    def pay(self, payment_method_id: str) -> str:
        body = {"amount": 50_000, "currency": "NGN", "paymentMethodId": payment_method_id}
        headers = {**self.headers, "Idempotency-Key": str(uuid.uuid4())}
        response = self.client.post("/payments", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])

    def status(self, payment_id: str) -> str:
        response = self.client.get(f"/payments/{payment_id}", headers=self.headers)
        return str(response.json()["data"]["status"])


def run_payments(stack: DevStack, prometheus: Prometheus) -> None:
    merchant = Merchant(stack)
    declining = merchant.register_card(DECLINED_CARD)
    # The webhook sender's counter as Prometheus last saw it: each round must move it in a new
    # scrape, or a rate over the two rounds can be 0 (all attempts before the first scrape).
    attempts_scraped = [0.0]
    for round_number in (1, 2):
        completing = merchant.pay(stack.demo["payment_method_id"])
        declined = merchant.pay(declining)

        def ended(payments: tuple[str, str] = (completing, declined)) -> str | None:
            statuses = [merchant.status(payment) for payment in payments]
            return None if statuses == ["completed", "failed"] else f"statuses {statuses}"

        eventually(ended, "the payments did not end as the test cards say")

        def scraped(expected: int = round_number) -> str | None:
            expr = 'sum(payments_payment_transitions_total{status="failed"})'
            found = values(prometheus.query(expr))
            if not (found and found[0] >= expected):
                return f"scraped {found}"
            attempts = values(prometheus.query("sum(payments_webhook_attempts_total)"))
            if not (attempts and attempts[0] > attempts_scraped[-1]):
                return f"webhook attempts scraped {attempts}, before {attempts_scraped[-1]}"
            attempts_scraped.append(attempts[0])
            return None

        eventually(scraped, "Prometheus did not scrape the failed payment and its webhooks")


@pytest.fixture(scope="module")
def observed(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    binary = tool("prometheus")  # skips, saying how to install it, when it is absent
    directory = tmp_path_factory.mktemp("observability")
    (directory / "stack").mkdir()
    with (
        running_devstack(directory / "stack", database_url) as stack,
        running_prometheus(
            binary, directory / "prometheus", stack.metrics_urls, rule_files()
        ) as prometheus,
    ):
        run_payments(stack, prometheus)
        yield Observed(stack, prometheus)


def test_every_dashboard_query_and_alert_expression_runs(observed: Observed) -> None:
    expressions = [(f"{t.dashboard}: {t.panel} {t.ref}", t.expr) for t in dashboard_targets()]
    expressions += [(name, rule["expr"]) for name, rule in alerts_in_files().items()]
    failures = []
    for where, expr in expressions:
        try:
            observed.prometheus.query(expr)
        except AssertionError as error:
            failures.append(f"{where}: {error}")
    assert failures == []


def test_the_key_panels_show_the_payments(observed: Observed) -> None:
    query = observed.prometheus.query
    checks = {
        "payment rate": (panel("platform.json", "Payment rate by status"), positive),
        "success ratio": (panel("platform.json", "Success ratio"), lambda v: 0 < v < 1),
        "lifecycle p99": (panel("platform.json", "Create → terminal p50 / p99", "B"), positive),
        "webhook attempts": (panel("webhooks.json", "Webhook attempts by outcome"), positive),
        "API request rate": (panel("api.json", "Request rate by route"), positive),
    }

    def missing() -> str | None:
        empty = {}
        for name, (expr, shows) in checks.items():
            found = [value for value in values(query(expr)) if math.isfinite(value)]
            if not any(shows(value) for value in found):
                empty[name] = found
        return f"no data where expected: {empty}" if empty else None

    eventually(missing, "key panels")


def test_the_rules_load_healthy_and_the_worker_is_seen_polling(observed: Observed) -> None:
    expected = set(alerts_in_files())

    def evaluated() -> str | None:
        rules = {rule["name"]: rule for rule in observed.prometheus.rules()}
        if set(rules) != expected:
            return f"loaded {sorted(rules)}"
        unhealthy = {name: rule.get("lastError") for name, rule in rules.items()}
        unhealthy = {k: v for k, v in unhealthy.items() if rules[k]["health"] != "ok"}
        return f"unhealthy {unhealthy}" if unhealthy else None

    eventually(evaluated, "rules")
    states = {rule["name"]: rule["state"] for rule in observed.prometheus.rules()}
    # The worker's real series match the alert's selector, so its absent() branch stays quiet.
    for quiet in ("PaymentsWorkerNotPolling", "PaymentsDeadLetterQueueNotEmpty"):
        assert states[quiet] == "inactive", quiet


def test_each_consumer_samples_its_queue_and_dlq_and_beats(observed: Observed) -> None:
    query = observed.prometheus.query
    expected = {
        ("payment-processing-queue", "false"),
        ("payment-processing-queue-dlq", "true"),
        ("payment-webhook-queue", "false"),
        ("payment-webhook-queue-dlq", "true"),
    }
    sampled = {
        (sample["metric"]["queue"], sample["metric"]["dead_letter"])
        for sample in query('payments_queue_messages{state="visible"}')
    }
    assert sampled == expected
    beats = {
        sample["metric"]["queue"]: sample["metric"]["job"]
        for sample in query("payments_consumer_last_poll_timestamp_seconds")
    }
    # Jobs are named after the services as tests/stack names them.
    assert beats == {"payment-processing-queue": "processor", "payment-webhook-queue": "webhooks"}


def test_every_metric_named_is_one_the_services_export(observed: Observed) -> None:
    exported = observed.prometheus.metric_names()
    for url in observed.stack.metrics_urls.values():
        exported |= exported_names(httpx.get(url, timeout=5).text)
    named: dict[str, set[str]] = {}
    cluster_named: set[str] = set()
    for target in dashboard_targets():
        names = metric_names(target.expr)
        if target.dashboard in CLUSTER_DASHBOARDS:
            cluster_named |= names
        else:
            named.setdefault(target.dashboard, set()).update(names)
    for name, rule in alerts_in_files().items():
        named[name] = metric_names(rule["expr"])
    assert "payments_payment_lifecycle_seconds_bucket" in named["platform.json"]  # the reader reads
    unknown = {where: sorted(names - exported) for where, names in named.items()}
    assert {where: names for where, names in unknown.items() if names} == {}
    outside_cluster = {
        name
        for name in cluster_named
        if name != "up" and not name.startswith(CLUSTER_METRIC_PREFIXES)
    }
    assert outside_cluster == set()
