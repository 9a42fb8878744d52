"""The bench's ratio checks on a summary printed by the real report code from made-up results:
a ratio that is not measured / baseline is caught, where finding the word "ratio" was not."""

import copy
import math
from typing import Any

import pytest

from scripts.bench.report import summary_lines
from tests.bench.summary import RatioRow, printed_ratio_rows, ratio_problems

RESULTS: dict[str, Any] = {
    "api": {
        "ours": {"requests_per_s": 812.4, "p50_ms": 30, "p99_ms": 95},
        "baseline": {"requests_per_s": 2150.9, "p50_ms": 12, "p99_ms": 40},
        "ratio": round(812.4 / 2150.9, 3),
        "target": 0.25,
    },
    "e2e": {
        "payments": 5,
        "ours": {
            "completions_per_s": 3.41,
            "create_to_completed_p50_ms": 900,
            "create_to_completed_p99_ms": 1400,
            "create_to_webhook_p50_ms": 1100,
            "create_to_webhook_p99_ms": 1800,
            "webhook_after_completion_p50_ms": 110,
            "cpu_ms_per_payment": {"worker": 40.5, "temporal": 30.0},
        },
        "idle": {
            "payments": 10,
            "create_to_completed_p50_ms": 140,
            "create_to_webhook_p50_ms": 260,
        },
        "cpu_ms_per_payment": {
            "ours": 70.5,
            "ceiling": 60.0,
            "ratio": round(70.5 / 60.0, 3),
            "target": 1.3,
        },
        "ceilings": {"temporal": {"payments_per_s": 9.8}, "aws": {"payments_per_s": 41.2}},
        "binding": "temporal",
        "baseline_per_s": 9.8,
        "ratio": round(3.41 / 9.8, 3),
        "target": 0.3,
    },
    "webhooks": {
        "target": 0.8,
        "runs": [
            {
                "endpoints": 1,
                "in_flight": 4,
                "deliveries_per_s": 412.7,
                "baseline_per_s": 500.1,
                "ratio": round(412.7 / 500.1, 3),
                "cpu_ms_per_delivery": 1.7,
                "baseline_cpu_ms_per_post": 0.5,
            },
            {
                "endpoints": 20,
                "in_flight": 64,
                "deliveries_per_s": 1201.0,
                "baseline_per_s": 1500.3,
                "ratio": 0.8,
                "cpu_ms_per_delivery": 0.7,
                "baseline_cpu_ms_per_post": 0.45,
            },
        ],
    },
    "memory_mib": {"idle": {"api": 80}, "under_load_peak": {"api": 95}},
}


def printed(results: dict[str, Any]) -> str:
    return "\n".join(summary_lines(results))


def test_the_real_summary_prints_one_consistent_row_per_ratio() -> None:
    rows = printed_ratio_rows(printed(RESULTS))
    assert [row.figure for row in rows] == [
        "API create-payment, req/s",
        "end to end (5), completions/s",
        "CPU ms per payment (ceiling: a's)",
        "webhooks, 1 endpoint(s), deliveries/s",
        "webhooks, 20 endpoint(s), deliveries/s",
    ]
    assert ratio_problems(printed(RESULTS), RESULTS) == []


@pytest.mark.parametrize(
    "wrong",
    [
        # Positive, so the old JSON check (`ratio > 0`) let these three through too.
        lambda ours, baseline: ours * baseline,
        lambda ours, baseline: baseline / ours,
        lambda ours, baseline: 1.0,
        lambda ours, baseline: math.nan,
        lambda ours, baseline: 0.0,
    ],
)
def test_a_ratio_not_computed_from_the_figures_is_caught(wrong: Any) -> None:
    broken = copy.deepcopy(RESULTS)
    api = broken["api"]
    api["ratio"] = wrong(api["ours"]["requests_per_s"], api["baseline"]["requests_per_s"])
    text = printed(broken)
    assert "ratio" in text  # the old check of the table: its header alone passes it
    problems = ratio_problems(text, broken)
    assert problems and all(problem.startswith(("api", "API", "4 ratio")) for problem in problems)


def test_a_row_missing_from_the_table_is_caught() -> None:
    text = "\n".join(line for line in printed(RESULTS).splitlines() if "20 endpoint" not in line)
    assert ratio_problems(text, RESULTS) == ["4 ratio rows printed for 5 ratios"]


def test_a_table_showing_other_ratios_than_measured_is_caught() -> None:
    shown = copy.deepcopy(RESULTS)
    shown["e2e"]["ratio"] = 0.34  # within rounding of 3.4 / 9.8 as printed, not what was measured
    assert ratio_problems(printed(shown), RESULTS) == [
        "end to end (5), completions/s: printed ratio 0.34, measured 0.348"
    ]


def test_rounding_to_print_is_allowed_for() -> None:
    # 0.05 / 0.15 printed as 0.1 / 0.1 (or 0.0 / 0.2) with ratio 0.33: still read as a quotient.
    assert RatioRow("tiny", 0.1, 0.1, 0.33).problem() is None
    assert RatioRow("off", 10.0, 20.0, 0.52).problem() is not None


def test_a_ratio_rounded_twice_is_read_as_its_quotient() -> None:
    # A real run: 815.0 / 4643.9 = 0.1755, stored as 0.175 (three places), printed 0.17.
    assert RatioRow("API create-payment, req/s", 815.0, 4643.9, 0.17).problem() is None
    assert RatioRow("API create-payment, req/s", 815.0, 4643.9, 0.16).problem() is not None
