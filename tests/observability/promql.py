"""Just enough PromQL reading to list the metric names an expression selects.

Strings, label matchers, ranges and grouping clauses (`by (le)`, `on (queue)`) are blanked
first, so what is left that is not a number, a keyword or a function call is a metric name.
"""

import re

GRAFANA_VARIABLES = {
    # What the dashboards' variables become when a query is run outside Grafana. The rate window
    # outlasts the whole module: a loaded CI machine took over a minute between the payments and
    # the key-panel check, and a 1m window had emptied by then.
    "$__rate_interval": "15m",
    "$__interval": "15s",
    "$__range": "5m",
    "$namespace": ".*",
    "$release": "payments",
}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:])(?:0x[0-9a-fA-F]+|[0-9.]+(?:[eE][-+]?[0-9]+)?[smhdwy]*)")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"}
    | {"group_left", "group_right", "atan2"}
)


def substitute_grafana_variables(expr: str) -> str:
    for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(variable, GRAFANA_VARIABLES[variable])
    return expr


def metric_names(expr: str) -> set[str]:
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for found in _IDENTIFIER.finditer(text):
        name = found.group()
        if name.lower() in _KEYWORDS or text[found.end() :].lstrip().startswith("("):
            continue  # a keyword, or a function or aggregation being called
        names.add(name)
    return names


def exported_names(exposition: str) -> set[str]:
    """Every series name a /metrics text offers, also families with no sample yet: prometheus
    client libraries announce a labelled metric (`# TYPE`) before its first observation."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names.add(name)
            if kind in {"histogram", "summary"}:
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names
