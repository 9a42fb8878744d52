"""What every phase shares: progress lines, child processes, percentiles, resident memory."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from payments_devstack.processes import port_accepts_connections

REPO = Path(__file__).resolve().parents[2]
_STARTED = time.monotonic()


def progress(message: str) -> None:
    """One line per step, with the time since the run started, flushed at once."""
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", flush=True)  # noqa: T201


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ratio(ours: float, baseline: float) -> float:
    return round(ours / baseline, 3) if baseline else 0.0


@contextmanager
def child(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    log_file: Path | None = None,
    ready_timeout: float = 60.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in its own group, ready once `port` accepts; SIGTERM (then KILL) after."""
    output = log_file.open("wb") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(  # noqa: S603 - our own modules, fixed arguments
        list(argv),
        env=dict(env) if env is not None else None,
        cwd=REPO,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + ready_timeout
        while port is not None and not port_accepts_connections(port):
            if process.poll() is not None or time.monotonic() > deadline:
                where = f" (log: {log_file})" if log_file else ""
                raise SystemExit(f"{' '.join(argv[:3])} did not start{where}")
            time.sleep(0.1)
        yield process
    finally:
        stop_group(process)
        if log_file:
            output.close()  # type: ignore[union-attr]


def stop_group(
    process: "subprocess.Popen[bytes] | subprocess.Popen[str]", timeout: float = 30
) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def run_json(argv: Sequence[str], timeout: float) -> dict[str, object]:
    """Run a child to its end and parse the JSON object on its last output line."""
    finished = subprocess.run(  # noqa: S603 - our own modules, fixed arguments
        list(argv), cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed:\n{finished.stderr[-2000:]}")
    loaded: dict[str, object] = json.loads(finished.stdout.strip().splitlines()[-1])
    return loaded


def rss_mib(pid: int) -> float | None:
    """Resident memory of one process in MiB (Linux /proc), None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def descendants(root: int) -> dict[int, str]:
    """Every process below `root`, by pid, with its command line (Linux /proc)."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        commands[int(entry.name)] = command
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = commands[pid]
                frontier.append(pid)
    return found
