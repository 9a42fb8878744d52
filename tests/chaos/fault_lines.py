"""Reading a chaos run's output fault by fault: each fault it struck must report its own recovery.

The run prints, through its progress lines, `[ 41.2s] fault: <name>` as a fault strikes and
`[ 44.9s] fault: <name>: recovered in <seconds> s` once the stack is back (chaos/run.py).
"""

import math
import re

_FAULT_LINE = re.compile(
    r"\] fault: (?P<name>.+?)(?:: recovered in (?P<seconds>\S+) s)?$", re.MULTILINE
)


def fault_problems(output: str, expected: tuple[str, ...]) -> list[str]:
    """What is wrong with the faults in `output`: an expected one (a name's start) never struck,
    a struck one with no recovery line after it, a recovery line for no fault struck, or a
    recovery time that is not a number of seconds. Empty when every fault recovered."""
    problems: list[str] = []
    struck: list[str] = []
    waiting: list[str] = []  # struck, not yet recovered
    for line in _FAULT_LINE.finditer(output):
        name, seconds = line["name"], line["seconds"]
        if seconds is None:
            struck.append(name)
            waiting.append(name)
        elif name not in waiting:
            problems.append(f"{name}: recovered without being struck")
        else:
            waiting.remove(name)
            if not _seconds(seconds):
                problems.append(f"{name}: recovered in {seconds!r} s")
    problems += [f"{name}: struck, never recovered" for name in waiting]
    problems += [
        f"{prefix}: never struck"
        for prefix in expected
        if not any(name.startswith(prefix) for name in struck)
    ]
    return problems


def _seconds(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and value >= 0
