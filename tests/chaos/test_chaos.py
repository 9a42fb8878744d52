"""The reduced chaos run (`make chaos ARGS=--reduced`): 50 payments, each fault once, no
violation. It runs as its own process, like `make chaos`, with its own stack on free ports."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.chaos.fault_lines import fault_problems

REPO = Path(__file__).resolve().parents[2]
FAULTS = (
    "SIGKILL api",
    "SIGKILL processor",
    "SIGKILL worker",
    "SIGKILL webhooks",
    "restart Temporal (persistent file)",
    "restart Temporal, away",
    "SIGKILL PostgreSQL",
    "receiver down",
)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_reduced_chaos_run_breaks_no_invariant() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "payments_devstack.chaos", "--reduced"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    output = run.stdout + run.stderr
    assert "violations: 0" in output, output[-6000:]
    assert run.returncode == 0, output[-6000:]
    # Every fault was struck and reported its own recovery (faults added later too).
    assert fault_problems(output, FAULTS) == [], output[-6000:]
