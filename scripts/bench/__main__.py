"""`make bench` (`python -m scripts.bench`): every figure beside its baseline, in one run.

Phases, each with its baseline measured back to back with it on the same machine:
  api       create-payment under load vs a minimal FastAPI + asyncpg insert (`api`)
  e2e       payments through the embedded stack vs the Temporal and AWS-emulator ceilings (`e2e`)
  webhooks  webhook deliveries/s vs raw signed POSTs (`scripts/bench_webhooks.py`)
Resident memory of each service process is reported by the e2e phase. Results go to
bench/results/bench-<UTC time>.json (or --output) and a summary table to the terminal.
"""

import argparse
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scripts import bench_webhooks
from scripts.bench import api, e2e
from scripts.bench.common import REPO, progress
from scripts.bench.report import summary_lines

PHASES = ("api", "e2e", "webhooks")


@dataclass(frozen=True)
class Mode:
    api_seconds: float
    api_warmup: float
    payments: int
    deliveries: int
    endpoints: str


MODES = {
    "full": Mode(api_seconds=20, api_warmup=3, payments=500, deliveries=2000, endpoints="1,20"),
    "quick": Mode(api_seconds=5, api_warmup=2, payments=100, deliveries=500, endpoints="20"),
    "smoke": Mode(api_seconds=3, api_warmup=1, payments=5, deliveries=50, endpoints="1"),
}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="shorter runs (about 3 minutes)")
    size.add_argument("--smoke", action="store_true", help="the smallest run: checks the harness")
    parser.add_argument("--only", default=",".join(PHASES), help="comma-separated phases")
    parser.add_argument("--connections", type=int, default=32, help="API load connections")
    parser.add_argument("--payments", type=int, help="end-to-end payments (default by mode)")
    parser.add_argument("--output", type=Path, help="the JSON file (default bench/results/)")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    mode_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    mode = MODES[mode_name]
    phases = [phase.strip() for phase in args.only.split(",") if phase.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        raise SystemExit(f"unknown phase(s): {', '.join(sorted(unknown))}; use {PHASES}")
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode_name,
        "machine": _machine(),
        "command": "make bench" + (f' ARGS="--{mode_name}"' if mode_name != "full" else ""),
    }
    progress(f"bench ({mode_name}): {', '.join(phases)}")
    began = time.monotonic()
    if "api" in phases:
        load = api.ApiLoad(mode.api_seconds, mode.api_warmup, args.connections)
        results["api"] = api.measure(load)
    if "e2e" in phases:
        e2e_results = e2e.measure(args.payments or mode.payments)
        results["memory_mib"] = e2e_results.pop("memory_mib")
        results["e2e"] = e2e_results
    if "webhooks" in phases:
        progress(f"webhooks: {mode.deliveries} deliveries per run, endpoints {mode.endpoints}")
        results["webhooks"] = bench_webhooks.measure(
            ["--deliveries", str(mode.deliveries), "--endpoints", mode.endpoints]
        )
    results["seconds"] = round(time.monotonic() - began, 1)
    output = args.output or _default_output()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(summary_lines(results)), flush=True)  # noqa: T201
    progress(f"results written to {output}")


def _default_output() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return REPO / "bench" / "results" / f"bench-{stamp}.json"


def _machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "commit": commit,
    }


if __name__ == "__main__":
    main()
