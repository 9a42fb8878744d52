"""The metric-name reader the whole-stack Prometheus test relies on."""

from tests.observability.promql import exported_names, metric_names, substitute_grafana_variables


def test_reads_metric_names_and_nothing_else() -> None:
    expr = """
        histogram_quantile(0.99, sum by (namespace, le) (rate(a_bucket{route!~"/x|{y}"}[5m])))
        / ignoring (le) group_left (queue) b_total offset 1h
        unless on (queue) sum without (instance) (c) > 1e+06
        or absent(d{task_queue="q"}) and time() - e > bool 0.5
    """
    assert metric_names(expr) == {"a_bucket", "b_total", "c", "d", "e"}


def test_grafana_variables_become_plain_values() -> None:
    expr = 'rate(x{namespace=~"$namespace"}[$__rate_interval])'
    assert substitute_grafana_variables(expr) == 'rate(x{namespace=~".*"}[15m])'


def test_families_without_samples_count_as_exported() -> None:
    text = "\n".join(
        [
            "# HELP a_total Things.",
            "# TYPE a_total counter",
            "# TYPE b_seconds histogram",
            'b_seconds_bucket{le="+Inf"} 1.0',
            "c 2.0",
        ]
    )
    assert exported_names(text) == {
        "a_total",
        "b_seconds",
        "b_seconds_bucket",
        "b_seconds_count",
        "b_seconds_sum",
        "c",
    }
