"""`make observe`: Prometheus on this machine, with the chart's alert rules, scraping `make up`.

    uv run python -m payments_devstack.observe [--port 9090] [--data .data/prometheus]

The services' ports are `make up`'s, moved by the same variables (API_PORT, WORKER_HEALTH_PORT,
PROCESSOR_HEALTH_PORT, WEBHOOKS_HEALTH_PORT). The rules are charts/payments/rules/*.yaml, the
very files the chart's PrometheusRule includes. The prometheus binary comes from the system
(Debian's `prometheus` package, which scripts/k8s-tools.sh installs); no download happens here.
The whole-stack test builds its configuration with `prometheus_config` too.
"""

import argparse
import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

RULES_DIR = Path("charts/payments/rules")
DATA_DIR = Path(".data/prometheus")
DEFAULT_PORT = 9090
# Fast enough to watch one payment go through; the chart's ServiceMonitors use 30 s.
DEFAULT_INTERVAL = "5s"
# Each service's /metrics and where `make up` puts it: (port variable, default port, path).
SERVICES = {
    "api": ("API_PORT", 3001),
    "worker": ("WORKER_HEALTH_PORT", 9101),
    "payment-processor": ("PROCESSOR_HEALTH_PORT", 9102),
    "webhook-sender": ("WEBHOOKS_HEALTH_PORT", 9103),
}


def make_up_metrics_urls(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        name: f"http://127.0.0.1:{environ.get(variable) or default}/metrics"
        for name, (variable, default) in SERVICES.items()
    }


def rule_files(rules_dir: Path) -> list[Path]:
    return sorted(path.resolve() for path in rules_dir.glob("*.yaml"))


def prometheus_config(
    metrics_urls: Mapping[str, str], rules: Sequence[Path], *, interval: str
) -> dict[str, Any]:
    """A configuration scraping each URL as a job named after its service."""
    jobs = []
    for name, url in metrics_urls.items():
        parts = urlsplit(url)
        jobs.append(
            {
                "job_name": name,
                "scheme": parts.scheme,
                "metrics_path": parts.path or "/metrics",
                "static_configs": [{"targets": [parts.netloc]}],
            }
        )
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rules],
        "scrape_configs": jobs,
    }


def write_config(directory: Path, config: Mapping[str, Any]) -> Path:
    """JSON is YAML: no YAML library needed to write Prometheus's configuration."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prometheus.yml"
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def prometheus_command(binary: str, config: Path, data: Path, listen: str) -> list[str]:
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address={listen}",
        "--storage.tsdb.retention.time=7d",
    ]


def find_prometheus(repo: Path) -> str | None:
    pinned = repo / ".tools" / "bin" / "prometheus"
    return str(pinned) if pinned.exists() else shutil.which("prometheus")


def main(argv: Sequence[str], environ: Mapping[str, str], repo: Path) -> int:
    parser = argparse.ArgumentParser(prog="python -m payments_devstack.observe")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--data", type=Path, default=repo / DATA_DIR)
    parser.add_argument("--interval", default=DEFAULT_INTERVAL)
    args = parser.parse_args(argv)
    binary = find_prometheus(repo)
    if binary is None:
        print(  # noqa: T201
            "observe: prometheus not found: run scripts/k8s-tools.sh (as root it installs "
            "Debian's prometheus package) or install Prometheus on PATH",
            file=sys.stderr,
        )
        return 1
    urls = make_up_metrics_urls(environ)
    rules = rule_files(repo / RULES_DIR)
    config = write_config(args.data, prometheus_config(urls, rules, interval=args.interval))
    listen = f"127.0.0.1:{args.port}"
    lines = [f"Prometheus: http://{listen} (alerts: http://{listen}/alerts)", "scraping:"]
    lines += [f"  {name:<18} {url}" for name, url in urls.items()]
    lines += [f"rules: {', '.join(path.name for path in rules)}", f"data: {args.data}"]
    print("\n".join(lines), flush=True)  # noqa: T201
    command = prometheus_command(binary, config, args.data / "data", listen)
    os.execv(binary, command)  # Ctrl-C reaches Prometheus itself  # noqa: S606


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ, Path.cwd()))
