"""The final table: each invariant, how many things it checked, how many broke it."""

from payments_devstack.chaos.invariants import Findings

SHOWN_PER_INVARIANT = 20


def table(findings: Findings) -> list[str]:
    width = max(len(invariant.name) for invariant in findings.invariants)
    lines = [f"{'invariant':<{width}}  {'checked':>7}  {'violations':>10}"]
    lines.append("-" * len(lines[0]))
    lines += [
        f"{invariant.name:<{width}}  {invariant.checked:>7}  {len(invariant.violations):>10}"
        for invariant in findings.invariants
    ]
    lines.append("")
    lines += findings.notes
    lines.append("")
    if not findings.violations:
        lines.append("violations: 0")
        return lines
    lines.append(f"violations: {findings.violations}")
    for invariant in findings.invariants:
        for violation in invariant.violations[:SHOWN_PER_INVARIANT]:
            lines.append(f"  {invariant.name}: {violation}")
        hidden = len(invariant.violations) - SHOWN_PER_INVARIANT
        if hidden > 0:
            lines.append(f"  {invariant.name}: … and {hidden} more")
    return lines
