"""Reading the ratios a bench run reports, in its JSON and in its terminal table, and checking
each is the quotient of the measured figure by its baseline (scripts/bench/report.py prints the
figure and the baseline to 0.1 and the ratio, stored to 0.001, to 0.01)."""

import math
from dataclasses import dataclass
from typing import Any

NAME_WIDTH = 38  # report.summary_lines' first column
PRINTED_FIGURE_STEP = 0.05  # half the last printed digit: 0.1
# Half of 0.01, the printed ratio's last digit, plus half of 0.001: the JSON's ratio is already
# rounded to three places (scripts/bench/common.ratio) before it is printed to two, so 815.0 /
# 4643.9 = 0.1755 is stored as 0.175 and printed as 0.17.
PRINTED_RATIO_STEP = 0.005 + 0.0005


@dataclass(frozen=True)
class RatioRow:
    figure: str
    ours: float
    baseline: float
    ratio: float

    def problem(self) -> str | None:
        """Why this ratio is not ours / baseline (each as rounded to print), or None."""
        values = (self.ours, self.baseline, self.ratio)
        if not all(math.isfinite(value) and value > 0 for value in values):
            return f"{self.figure}: not all positive numbers: {values}"
        low = (self.ours - PRINTED_FIGURE_STEP) / (self.baseline + PRINTED_FIGURE_STEP)
        high = (
            (self.ours + PRINTED_FIGURE_STEP) / (self.baseline - PRINTED_FIGURE_STEP)
            if self.baseline > PRINTED_FIGURE_STEP
            else math.inf
        )
        if not low - PRINTED_RATIO_STEP <= self.ratio <= high + PRINTED_RATIO_STEP:
            return f"{self.figure}: ratio {self.ratio} is not {self.ours} / {self.baseline}"
        return None


def ratio_problems(stdout: str, results: dict[str, Any]) -> list[str]:
    """Every ratio in the JSON and in the table that is not its figure / baseline, and every
    table row that does not show the JSON's ratio. Empty when all agree."""
    measured, shown = json_ratio_rows(results), printed_ratio_rows(stdout)
    problems = [problem for row in (*measured, *shown) if (problem := row.problem())]
    if len(shown) != len(measured):
        return [*problems, f"{len(shown)} ratio rows printed for {len(measured)} ratios"]
    problems += [
        f"{row.figure}: printed ratio {row.ratio}, measured {figures.ratio}"
        for figures, row in zip(measured, shown, strict=True)
        if f"{figures.ratio:.2f}" != f"{row.ratio:.2f}"
    ]
    return problems


def printed_ratio_rows(stdout: str) -> list[RatioRow]:
    """The table's rows with a ratio: a name, then ours, baseline, ratio and maybe a target."""
    rows = []
    for line in stdout.splitlines():
        numbers = _numbers(line[NAME_WIDTH:].split())
        if numbers is not None and len(numbers) in (3, 4):
            rows.append(RatioRow(line[:NAME_WIDTH].strip(), *numbers[:3]))
    return rows


def json_ratio_rows(results: dict[str, Any]) -> list[RatioRow]:
    """The same rows from the JSON: each ratio beside the figures it was computed from."""
    api, e2e, webhooks = results["api"], results["e2e"], results["webhooks"]
    rows = [
        RatioRow(
            "api",
            api["ours"]["requests_per_s"],
            api["baseline"]["requests_per_s"],
            api["ratio"],
        ),
        RatioRow("e2e", e2e["ours"]["completions_per_s"], e2e["baseline_per_s"], e2e["ratio"]),
        RatioRow(
            "e2e CPU ms per payment",
            e2e["cpu_ms_per_payment"]["ours"],
            e2e["cpu_ms_per_payment"]["ceiling"],
            e2e["cpu_ms_per_payment"]["ratio"],
        ),
    ]
    rows += [
        RatioRow(
            f"webhooks, {run['endpoints']} endpoint(s)",
            run["deliveries_per_s"],
            run["baseline_per_s"],
            run["ratio"],
        )
        for run in webhooks["runs"]
    ]
    return rows


def _numbers(words: list[str]) -> list[float] | None:
    try:
        return [float(word) for word in words]
    except ValueError:
        return None
