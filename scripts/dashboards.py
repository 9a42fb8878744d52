"""Writes the chart's Grafana dashboards on the services' own metrics (charts/payments/dashboards).

    uv run python scripts/dashboards.py             # (re)write platform, webhooks, api.json
    uv run python scripts/dashboards.py --check     # exit 1 when a committed file differs
    uv run python scripts/dashboards.py --markdown  # the panels as tables, for the README

Generated rather than hand-written so every query has the same shape: a `datasource` variable, a
`namespace` variable (All matches series without the label too, as in a local Prometheus),
`$__rate_interval` in every rate. kubernetes.json and scaling.json (kube-state-metrics, cAdvisor)
are hand-written and not touched.
"""

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parents[1] / "charts" / "payments" / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
NS = 'namespace=~"$namespace"'
RATE = "[$__rate_interval]"
PANEL_WIDTH, PANEL_HEIGHT = 12, 8
FAILED = 'status="failed"'


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"


@dataclass(frozen=True)
class Dashboard:
    file: str
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def rate(metric: str, selector: str = "") -> str:
    labels = f"{NS}, {selector}" if selector else NS
    return f"rate({metric}{{{labels}}}{RATE})"


def ratio(metric: str, part: str, whole: str = "", by: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} ({rate(metric, part)}) / sum{grouping} ({rate(metric, whole)})"


def quantiles(histogram: str, by: str = "", selector: str = "") -> tuple[Query, ...]:
    grouping = f"{by}, le" if by else "le"
    prefix = f"{{{{{by}}}}} " if by else ""
    buckets = rate(f"{histogram}_bucket", selector)
    return tuple(
        Query(
            f"histogram_quantile({q}, sum by ({grouping}) ({buckets}))",
            f"{prefix}p{round(q * 100)}",
        )
        for q in (0.5, 0.99)
    )


PLATFORM = Dashboard(
    "platform.json",
    "payments-platform",
    "Payments / Platform overview",
    "Payments from creation to their end, the outbox, the SQS queues and their consumers.",
    (
        Panel(
            "Payment rate by status",
            "Payments entering each status per second (pending is creation).",
            (
                Query(
                    f"sum by (status) ({rate('payments_payment_transitions_total')})", "{{status}}"
                ),
            ),
            "ops",
        ),
        Panel(
            "Success ratio",
            "Completed among the payments that ended (completed or failed).",
            (
                Query(
                    ratio(
                        "payments_payment_transitions_total",
                        'status="completed"',
                        'status=~"completed|failed"',
                    ),
                    "completed / ended",
                ),
            ),
            "percentunit",
        ),
        Panel(
            "Failures by reason",
            "Payments failing per second, by failure reason (card_declined, gateway_timeout...).",
            (
                Query(
                    "sum by (failure_reason) "
                    f"({rate('payments_payment_transitions_total', FAILED)})",
                    "{{failure_reason}}",
                ),
            ),
            "ops",
        ),
        Panel(
            "Create → terminal p50 / p99",
            "Seconds from a payment's creation to completed, failed or cancelled.",
            quantiles("payments_payment_lifecycle_seconds"),
            "s",
        ),
        Panel(
            "Not final, by status and age",
            "Payments and refunds not yet final, by status and time since their last change (the "
            "reconciler's gauge); what stays past RECONCILE_AFTER_SECONDS is the reconciler's.",
            (
                Query(
                    f"max by (kind, status, age) (payments_non_terminal{{{NS}}})",
                    "{{kind}} {{status}} {{age}}",
                ),
            ),
        ),
        Panel(
            "Waiting for the merchant or the customer",
            "Manual payments holding money until a capture, cancel or expiry (authorized), and "
            "payments waiting for the customer's authentication (requires_action); and how holds "
            "and challenges ended badly, per second (expired, declined, timed out).",
            (
                Query(
                    # Every worker exports the same counts (max), one series per age bucket (sum).
                    "sum by (status) (max by (status, age) (payments_non_terminal{"
                    f'{NS}, kind="payment", status=~"authorized|requires_action"}}))',
                    "{{status}} now",
                ),
                Query(
                    "sum by (failure_reason) ("
                    + rate(
                        "payments_payment_transitions_total",
                        'failure_reason=~"authorization_expired|authentication_failed'
                        '|authentication_timeout"',
                    )
                    + ")",
                    "{{failure_reason}} /s",
                ),
            ),
        ),
        Panel(
            "Reconciler repairs",
            "Payments and refunds the reconciler settled against the gateway, per second, by "
            "outcome (unknown: the gateway had no answer yet). Normally none.",
            (
                Query(
                    f"sum by (kind, outcome) ({rate('payments_reconciler_repairs_total')})",
                    "{{kind}} {{outcome}}",
                ),
            ),
            "ops",
        ),
        Panel(
            "Outbox backlog",
            "Outbox rows not yet published to SNS, and the relay's publishes per second.",
            (
                Query(f"max(payments_outbox_unpublished_rows{{{NS}}})", "unpublished rows"),
                Query(
                    f"sum by (outcome) ({rate('payments_outbox_published_total')})",
                    "published/s {{outcome}}",
                ),
            ),
        ),
        Panel(
            "Outbox oldest unpublished age",
            "Age of the oldest row waiting for the relay (0 when none).",
            (Query(f"max(payments_outbox_oldest_unpublished_age_seconds{{{NS}}})", "age"),),
            "s",
        ),
        Panel(
            "Queue depth",
            "Messages waiting (visible) and received but not deleted (in_flight), per queue.",
            (
                Query(
                    f'max by (queue, state) (payments_queue_messages{{{NS}, dead_letter="false"}})',
                    "{{queue}} {{state}}",
                ),
            ),
        ),
        Panel(
            "Dead-letter queue depth",
            "Messages in each DLQ: events that failed every delivery. Should be 0.",
            (
                Query(
                    "max by (queue) (payments_queue_messages"
                    f'{{{NS}, dead_letter="true", state="visible"}})',
                    "{{queue}}",
                ),
            ),
        ),
        Panel(
            "Consumer throughput",
            "SQS records handled per second by queue and outcome (handled, failed, poison).",
            (
                Query(
                    f"sum by (queue, outcome) ({rate('payments_consumer_messages_total')})",
                    "{{queue}} {{outcome}}",
                ),
            ),
            "ops",
        ),
        Panel(
            "Seconds since a consumer last polled",
            "Per queue, since the most recent SQS receive of any replica returned.",
            (
                Query(
                    "time() - max by (queue) "
                    f"(payments_consumer_last_poll_timestamp_seconds{{{NS}}})",
                    "{{queue}}",
                ),
            ),
            "s",
        ),
        Panel(
            "Gateway calls by operation and outcome",
            "Calls to the payment gateway per second.",
            (
                Query(
                    "sum by (operation, outcome) "
                    f"({rate('payments_gateway_call_duration_seconds_count')})",
                    "{{operation}} {{outcome}}",
                ),
            ),
            "ops",
        ),
        Panel(
            "Connector fallbacks",
            "Merchants' connectors passed over per second, by gateway and why: gateway_unreachable "
            "or gateway_unavailable/gateway_timeout (the worker fell back to the next connector), "
            "not_tokenized (the API routed past one holding no token of the card).",
            (
                Query(
                    f"sum by (gateway, reason) ({rate('payments_connector_fallbacks_total')})",
                    "{{gateway}} {{reason}}",
                ),
            ),
            "ops",
        ),
        Panel(
            "Gateway calls by connector",
            "Calls per second by gateway (sandbox, stripe) and outcome.",
            (
                Query(
                    "sum by (gateway, outcome) "
                    f"({rate('payments_gateway_call_duration_seconds_count')})",
                    "{{gateway}} {{outcome}}",
                ),
            ),
            "ops",
        ),
        Panel(
            "Temporal task queue pollers",
            "Pollers of the worker's task queue by type: 0 means payments stop advancing.",
            (
                Query(
                    f"sum by (task_queue, poller_type) (temporal_num_pollers{{{NS}}})",
                    "{{task_queue}} {{poller_type}}",
                ),
            ),
        ),
    ),
)

WEBHOOKS = Dashboard(
    "webhooks.json",
    "payments-webhooks",
    "Payments / Webhooks",
    "The webhook sender: attempts, failures, latency and deliveries.",
    (
        Panel(
            "Webhook attempts by outcome",
            "POST attempts per second: success, http_error, gone, timeout, connection...",
            (
                Query(
                    f"sum by (outcome) ({rate('payments_webhook_attempts_total')})", "{{outcome}}"
                ),
            ),
            "ops",
        ),
        Panel(
            "Webhook failure ratio",
            "Attempts that did not succeed among all attempts.",
            (
                Query(
                    ratio("payments_webhook_attempts_total", 'outcome!="success"'),
                    "failed / all",
                ),
            ),
            "percentunit",
        ),
        Panel(
            "Attempt latency p50 / p99",
            "Seconds from name resolution to the last byte of the merchant's answer.",
            quantiles("payments_webhook_attempt_duration_seconds"),
            "s",
        ),
        Panel(
            "Deliveries ended",
            "Deliveries reaching a final status per second: succeeded, or failed for good.",
            (
                Query(
                    f"sum by (status) ({rate('payments_webhook_deliveries_ended_total')})",
                    "{{status}}",
                ),
            ),
            "ops",
        ),
        Panel(
            "Attempts in flight",
            "Webhook attempts running now, all senders.",
            (Query(f"sum(payments_webhook_attempts_in_flight{{{NS}}})", "in flight"),),
        ),
    ),
)

API = Dashboard(
    "api.json",
    "payments-api",
    "Payments / API",
    "The merchant API by route template: rate, errors, duration, in flight.",
    (
        Panel(
            "Request rate by route",
            "Requests per second by route template.",
            (
                Query(
                    f"sum by (route) ({rate('payments_http_request_duration_seconds_count')})",
                    "{{route}}",
                ),
            ),
            "reqps",
        ),
        Panel(
            "5xx ratio by route",
            "Requests answered with a 5xx status among all requests of the route.",
            (
                Query(
                    ratio(
                        "payments_http_request_duration_seconds_count", 'status=~"5.."', by="route"
                    ),
                    "{{route}}",
                ),
            ),
            "percentunit",
        ),
        Panel(
            "Requests by status",
            "Requests per second by status code (4xx are the callers').",
            (
                Query(
                    f"sum by (status) ({rate('payments_http_request_duration_seconds_count')})",
                    "{{status}}",
                ),
            ),
            "reqps",
        ),
        Panel(
            "Latency p50 / p99 by route",
            "Seconds to serve a request, by route template.",
            quantiles("payments_http_request_duration_seconds", by="route"),
            "s",
        ),
        Panel(
            "Requests in flight",
            "Requests being served now, all API pods.",
            (Query(f"sum(payments_http_requests_in_flight{{{NS}}})", "in flight"),),
        ),
    ),
)

DASHBOARDS = (PLATFORM, WEBHOOKS, API)


def _templating() -> dict[str, Any]:
    namespace_query = "label_values(payments_http_requests_in_flight, namespace)"
    return {
        "list": [
            {
                "name": "datasource",
                "label": "Data source",
                "type": "datasource",
                "query": "prometheus",
                "current": {},
                "hide": 0,
                "refresh": 1,
                "options": [],
            },
            {
                "name": "namespace",
                "label": "Namespace",
                "type": "query",
                "datasource": DATASOURCE,
                "query": {"query": namespace_query, "refId": "namespace"},
                "definition": namespace_query,
                "refresh": 2,
                "current": {"text": "All", "value": "$__all"},
                "hide": 0,
                "sort": 1,
                "options": [],
                "includeAll": True,
                # Also matches series without a namespace label (a Prometheus outside Kubernetes).
                "allValue": ".*",
                "multi": False,
            },
        ]
    }


def _panel(index: int, panel: Panel) -> dict[str, Any]:
    return {
        "id": index + 1,
        "title": panel.title,
        "description": panel.description,
        "type": "timeseries",
        "datasource": DATASOURCE,
        "gridPos": {
            "h": PANEL_HEIGHT,
            "w": PANEL_WIDTH,
            "x": (index % 2) * PANEL_WIDTH,
            "y": (index // 2) * PANEL_HEIGHT,
        },
        "targets": [
            {
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend,
                "refId": chr(ord("A") + number),
            }
            for number, query in enumerate(panel.queries)
        ],
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
    }


def render(dashboard: Dashboard) -> str:
    document = {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["payments"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "templating": _templating(),
        "annotations": {"list": []},
        "links": [],
        "panels": [_panel(index, panel) for index, panel in enumerate(dashboard.panels)],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def markdown() -> str:
    lines = []
    for dashboard in DASHBOARDS:
        lines += [
            f"**{dashboard.title}** (`{dashboard.file}`)",
            "",
            "| panel | shows |",
            "|---|---|",
        ]
        lines += [f"| {panel.title} | {panel.description} |" for panel in dashboard.panels]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file is out of date")
    parser.add_argument("--markdown", action="store_true", help="print the panels as tables")
    args = parser.parse_args()
    if args.markdown:
        print(markdown())  # noqa: T201
        return 0
    stale = []
    for dashboard in DASHBOARDS:
        path = DASHBOARDS_DIR / dashboard.file
        text = render(dashboard)
        if path.exists() and path.read_text() == text:
            continue
        if args.check:
            stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path}")  # noqa: T201
    if stale:
        print(f"out of date: {', '.join(stale)}: run scripts/dashboards.py", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
