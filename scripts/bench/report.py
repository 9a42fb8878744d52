"""The terminal summary of one run: each figure, its baseline and their ratio."""

from typing import Any


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = ["", f"{'figure':<38}{'ours':>14}{'baseline':>14}{'ratio':>8}{'target':>8}"]
    if "api" in results:
        figures = results["api"]
        ours, base = figures["ours"], figures["baseline"]
        lines.append(
            _row("API create-payment, req/s", ours["requests_per_s"], base["requests_per_s"],
                 figures["ratio"], figures["target"])
        )  # fmt: skip
        lines.append(f"{'  p50 / p99 ms':<38}{_pair(ours):>14}{_pair(base):>14}")
    if "e2e" in results:
        figures = results["e2e"]
        ours = figures["ours"]
        lines.append(
            _row(f"end to end ({figures['payments']}), completions/s", ours["completions_per_s"],
                 figures["baseline_per_s"], figures["ratio"], figures["target"])
        )  # fmt: skip
        ceilings = figures["ceilings"]
        lines.append(
            f"  ceilings: Temporal {ceilings['temporal']['payments_per_s']}/s, AWS emulator"
            f" {ceilings['aws']['payments_per_s']}/s; binds: {figures['binding']}"
        )
        lines.append(
            f"  create→completed p50/p99 {ours['create_to_completed_p50_ms']:.0f}/"
            f"{ours['create_to_completed_p99_ms']:.0f} ms, create→webhook p50/p99"
            f" {ours['create_to_webhook_p50_ms']:.0f}/{ours['create_to_webhook_p99_ms']:.0f} ms,"
            f" webhook after completion p50 {ours['webhook_after_completion_p50_ms']:.0f} ms"
        )
        idle = figures["idle"]
        lines.append(
            f"  at idle ({idle['payments']} one at a time): create→completed p50"
            f" {idle['create_to_completed_p50_ms']:.0f} ms, create→webhook p50"
            f" {idle['create_to_webhook_p50_ms'] or 0:.0f} ms"
        )
        cpu = figures["cpu_ms_per_payment"]
        lines.append(
            _row("  CPU ms per payment (ceiling: a's)", cpu["ours"], cpu["ceiling"],
                 cpu["ratio"], cpu["target"])
        )  # fmt: skip
        lines.append(
            "    ours: " + ", ".join(f"{n} {v}" for n, v in ours["cpu_ms_per_payment"].items())
        )
    if "webhooks" in results:
        figures = results["webhooks"]
        for run in figures["runs"]:
            lines.append(
                _row(f"webhooks, {run['endpoints']} endpoint(s), deliveries/s",
                     run["deliveries_per_s"], run["baseline_per_s"], run["ratio"],
                     figures.get("target"))
            )  # fmt: skip
            lines.append(
                f"{'  CPU ms per delivery / per POST':<38}{run['cpu_ms_per_delivery']:>14.2f}"
                f"{run['baseline_cpu_ms_per_post']:>14.2f}   ({run['in_flight']} in flight)"
            )
    if "memory_mib" in results:
        memory = results["memory_mib"]
        for name, idle in memory["idle"].items():
            loaded = memory["under_load_peak"].get(name)
            lines.append(f"  RSS {name:<10} idle {idle} MiB, under load (peak) {loaded} MiB")
    return lines


def _row(name: str, ours: float, baseline: float, ratio: float, target: float | None) -> str:
    goal = f"{target:.2f}" if target is not None else ""
    return f"{name:<38}{ours:>14.1f}{baseline:>14.1f}{ratio:>8.2f}{goal:>8}"


def _pair(figures: dict[str, Any]) -> str:
    return f"{figures['p50_ms']:.0f} / {figures['p99_ms']:.0f}"
