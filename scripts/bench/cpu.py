"""Where the end-to-end phase spends CPU: per process, and (optionally) sampled by py-spy.

CPU seconds come from /proc (user + system time of each process and of its children that were
waited for), read before and after the payments, so every figure is per run and can be divided
by the payments: a ratio of rates says how fast, this says what each payment cost and where.
`BENCH_PROFILE=<folder>` also records each service with `py-spy record` (collapsed stacks, one
file per process) while the payments run.
"""

import os
import shutil
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from payments_devstack.moto_server import MOTO_MODULE

# The stack's processes besides our services: recognised by their command lines.
INFRASTRUCTURE = {
    "moto": f"-m {MOTO_MODULE}",
    "temporal": "temporal server start-dev",
    "postgres": "postgres",
    "receiver": "devstack.receiver",
}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROFILE_RATE_HZ = 97


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of one process and its reaped children, None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime are fields 14-17 of stat(5); fields[0] here is field 3.
    return sum(int(value) for value in fields[11:15]) / _CLOCK_TICKS


def infrastructure_pids(running: Mapping[int, str]) -> dict[str, list[int]]:
    """The emulator, Temporal, PostgreSQL (every backend) and the receiver, by name."""
    found: dict[str, list[int]] = {}
    for pid, command in running.items():
        for name, marker in INFRASTRUCTURE.items():
            if marker in command:
                found.setdefault(name, []).append(pid)
                break
    return found


def snapshot(groups: Mapping[str, list[int]]) -> dict[str, dict[int, float]]:
    return {
        name: {pid: seconds for pid in pids if (seconds := cpu_seconds(pid)) is not None}
        for name, pids in groups.items()
    }


def spent(
    before: Mapping[str, Mapping[int, float]], after: Mapping[str, Mapping[int, float]]
) -> dict[str, float]:
    """CPU seconds each group used between two snapshots.

    A process first seen in `after` started in between (a PostgreSQL backend for a pool that
    grew under load), so all of its CPU counts; one gone by `after` cannot be read and is lost.
    """
    used: dict[str, float] = {}
    for name, pids in after.items():
        earlier = before.get(name, {})
        used[name] = round(sum(seconds - earlier.get(pid, 0.0) for pid, seconds in pids.items()), 2)
    return used


class Profilers:
    """`py-spy record` on each named process until `stop()`; nothing when `folder` is None."""

    def __init__(self, folder: Path | None, pids: Mapping[str, int]) -> None:
        self._running: list[subprocess.Popen[bytes]] = []
        py_spy = shutil.which("py-spy")
        if folder is None or py_spy is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            command = [py_spy, "record", "--pid", str(pid), "--rate", str(PROFILE_RATE_HZ)]
            command += ["--format", "raw", "--nonblocking", "--output", str(folder / name)]
            self._running.append(
                subprocess.Popen(  # noqa: S603 - py-spy from PATH, our own arguments
                    command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )

    def stop(self) -> None:
        """py-spy writes its output on SIGINT."""
        for process in self._running:
            process.send_signal(signal.SIGINT)
        for process in self._running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
