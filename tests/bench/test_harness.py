"""`make bench` in its smallest mode: every figure present, every ratio computed.

Not a timed test: the figures themselves are not checked, only that the harness still runs
end to end, writes the JSON the README's Performance section is read from, and that each ratio it
reports is its figure over its baseline.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.summary import ratio_problems

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smoke_run_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    finished = subprocess.run(
        [sys.executable, "-m", "scripts.bench", "--smoke", "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    results = json.loads(output.read_text())

    api = results["api"]
    for side in ("ours", "baseline"):
        assert api[side]["requests"] > 0
        assert {"requests_per_s", "p50_ms", "p99_ms"} <= api[side].keys()
        # Where a request's CPU went: the app under test and PostgreSQL did work in both runs.
        assert api[side]["cpu_ms_per_request"]["app"] > 0
        assert api[side]["cpu_ms_per_request"]["postgres"] > 0
    assert "moto" in api["ours"]["cpu_ms_per_request"]
    assert api["ratio"] > 0

    e2e = results["e2e"]
    assert e2e["ours"]["webhooks_received"] == e2e["payments"]
    assert e2e["binding"] in ("temporal", "aws")
    assert e2e["baseline_per_s"] == min(
        e2e["ceilings"]["temporal"]["payments_per_s"], e2e["ceilings"]["aws"]["payments_per_s"]
    )
    assert e2e["ratio"] > 0
    # Where each payment's CPU went, ours and the ceilings' (the stack's own processes).
    assert {"worker", "temporal", "moto"} <= e2e["ours"]["cpu_ms_per_payment"].keys()
    assert "noop_worker" in e2e["ceilings"]["temporal"]["cpu_ms_per_payment"]
    assert "moto" in e2e["ceilings"]["aws"]["cpu_ms_per_payment"]
    # The whole payment's CPU against the ceiling's server and worker, summed from those figures.
    cpu = e2e["cpu_ms_per_payment"]
    assert cpu["ours"] == pytest.approx(sum(e2e["ours"]["cpu_ms_per_payment"].values()), abs=0.2)
    ceiling = e2e["ceilings"]["temporal"]["cpu_ms_per_payment"]
    assert cpu["ceiling"] == pytest.approx(ceiling["temporal"] + ceiling["noop_worker"], abs=0.2)
    # Payments one at a time, each completed and webhooked, before the burst.
    assert e2e["idle"]["create_to_completed_p50_ms"] > 0
    assert e2e["idle"]["create_to_webhook_p50_ms"] >= e2e["idle"]["create_to_completed_p50_ms"]

    webhooks = results["webhooks"]
    assert all(run["baseline_per_s"] > 0 and run["ratio"] > 0 for run in webhooks["runs"])
    # Each run's baseline sends with the sender's own limit for its endpoints.
    assert [run["in_flight"] for run in webhooks["runs"]] == [
        min(webhooks["concurrency"], webhooks["endpoint_concurrency"] * run["endpoints"])
        for run in webhooks["runs"]
    ]

    memory = results["memory_mib"]
    services = {"api", "worker", "processor", "webhooks"}
    assert set(memory["idle"]) == services
    assert set(memory["under_load_peak"]) == services
    # Each ratio, in the JSON and in the table, is its measured figure over its baseline.
    assert ratio_problems(finished.stdout, results) == [], finished.stdout[-3000:]
