"""A small process supervisor for the embedded dev stack and the integration tests.

Each child runs in its own process group so one signal reaches everything it forked (postgres
backends, uvicorn workers) and so a Ctrl-C in the terminal reaches only us: we then stop the
children in reverse start order, which lets the API drain before its database goes away.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

from payments_devstack.errors import DevstackError

STOP_TIMEOUT_SECONDS = 10.0
NAME_WIDTH = 9
_COLOURS = ("36", "33", "35", "32", "34", "31", "96", "93", "95", "92")
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one child process and where its output goes."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    # Postgres refuses to run as root, so it runs as an unprivileged system user.
    user: str | None = None
    # Postgres treats SIGTERM as "smart" shutdown (waits for clients); SIGINT is "fast".
    stop_signal: signal.Signals = signal.SIGTERM
    # Noisy infrastructure logs to a file; our own services stream to the terminal.
    log_file: Path | None = None
    echo: bool = True


class OutputWriter:
    """Writes lines prefixed with a padded, coloured service name; one lock keeps lines whole."""

    def __init__(self, stream: TextIO | None = None, colour: bool | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._colour = _wants_colour(self._stream) if colour is None else colour
        # Reentrant: the stop-signal handler may print while the main thread holds the lock.
        self._lock = threading.RLock()
        self._colour_of: dict[str, str] = {}

    def line(self, name: str, text: str) -> None:
        self.block(name, [text])

    def block(self, name: str, lines: Sequence[str]) -> None:
        """Several lines that no other service's output may split (the `make up` summary)."""
        label = name.ljust(NAME_WIDTH)
        if self._colour:
            code = self._colour_of.setdefault(name, _COLOURS[len(self._colour_of) % len(_COLOURS)])
            label = f"\x1b[{code}m{label}\x1b[0m"
        with self._lock:
            self._stream.write("".join(f"{label}| {text}\n" for text in lines))
            self._stream.flush()


def _wants_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def _die_with_parent(death_signal: int) -> Callable[[], None]:
    """A preexec hook so children do not outlive a parent killed with SIGKILL (Linux only).

    The kernel sends the signal when the *thread* that started the child exits, so start
    processes from a long-lived thread (the main thread), never from a short-lived worker.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, death_signal)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), death_signal)

    return hook


class ManagedProcess:
    """One running child: its output pump, its exit notification and its stop sequence."""

    def __init__(
        self,
        spec: ServiceSpec,
        writer: OutputWriter,
        on_exit: Callable[[ManagedProcess], None] | None = None,
        *,
        append_log: bool = False,
    ) -> None:
        self.spec = spec
        self._writer = writer
        self._on_exit = on_exit
        self.stopping = False
        log: IO[str] | None = None
        if spec.log_file is not None:
            spec.log_file.parent.mkdir(parents=True, exist_ok=True)
            # One run per file: the path we print on failure then shows only this run. A child
            # restarted in its predecessor's place (append_log) continues that run's file.
            log = spec.log_file.open("a" if append_log else "w", encoding="utf-8")
        self._log = log
        try:
            self.popen = subprocess.Popen(  # noqa: S603 - argv comes from our own specs
                list(spec.argv),
                env=dict(spec.env) if spec.env is not None else None,
                cwd=spec.cwd,
                user=spec.user,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=_die_with_parent(spec.stop_signal),
            )
        except OSError as error:
            self._close_log()
            raise DevstackError(f"{spec.name} could not start: {error}") from error
        self._pump = threading.Thread(target=self._pump_output, name=f"pump-{spec.name}")
        self._pump.daemon = True
        self._pump.start()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def _pump_output(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if self._log is not None:
                self._log.write(text + "\n")
                self._log.flush()
            if self.spec.echo:
                self._writer.line(self.spec.name, text)
        self.popen.wait()
        self._close_log()
        if self._on_exit is not None:
            self._on_exit(self)

    def _close_log(self) -> None:
        if self._log is not None and not self._log.closed:
            self._log.close()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Signal the whole group, wait, then SIGKILL whatever is left."""
        self.stopping = True
        if self.running():
            self._signal_group(self.spec.stop_signal)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._writer.line(self.name, f"did not stop within {timeout:.0f}s; killing it")
                self._signal_group(signal.SIGKILL)
                self.popen.wait()
        self.join_output()

    def join_output(self) -> None:
        """Let the pump drain the last lines (the shutdown messages) of an exited child."""
        self._pump.join(timeout=2)

    def kill(self) -> None:
        if self.running():
            self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)


class StopRequested(BaseException):
    """Raised in the main thread on SIGINT/SIGTERM; a BaseException so `except Exception`
    blocks in startup code cannot swallow it."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


class StopSignals:
    """The first SIGINT/SIGTERM raises StopRequested; a later one calls `on_repeat` (kill now).

    One Ctrl-C often arrives twice: the terminal signals the whole foreground group (make, uv
    and us) and `uv run` forwards it as well, so repeats within REPEAT_GRACE_SECONDS are ignored
    rather than taken as the user's impatience.
    """

    REPEAT_GRACE_SECONDS = 1.0

    def __init__(self, on_repeat: Callable[[], None]) -> None:
        self._on_repeat = on_repeat
        self._first_at: float | None = None

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        now = time.monotonic()
        if self._first_at is None:
            self._first_at = now
            raise StopRequested(signal.Signals(signum).name)
        if now - self._first_at > self.REPEAT_GRACE_SECONDS:
            self._on_repeat()


@dataclass
class Supervisor:
    """Starts children, reports the first one that exits on its own, stops all in reverse order."""

    writer: OutputWriter = field(default_factory=OutputWriter)
    processes: list[ManagedProcess] = field(default_factory=list)
    _exits: queue.Queue[ManagedProcess] = field(default_factory=queue.Queue)

    def start(
        self, spec: ServiceSpec, *, replacing: ManagedProcess | None = None
    ) -> ManagedProcess:
        """Start a child; `replacing` a stopped one takes its place in the stop order."""
        process = ManagedProcess(
            spec, self.writer, on_exit=self._exited, append_log=replacing is not None
        )
        if replacing is not None and replacing in self.processes:
            self.processes[self.processes.index(replacing)] = process
        else:
            self.processes.append(process)
        return process

    def kill(self, process: ManagedProcess) -> None:
        """SIGKILL one child's whole group and wait for it (fault injection); its death is
        expected, so it is not reported as an unexpected exit."""
        process.stopping = True
        process.kill()
        process.popen.wait()
        process.join_output()

    def restart(
        self, process: ManagedProcess, spec: ServiceSpec | None = None, *, kill: bool = False
    ) -> ManagedProcess:
        """Stop (or SIGKILL) one child and start it again in its place, with `spec` if given
        (another log file, say)."""
        if kill:
            self.kill(process)
        else:
            process.stop()
        return self.start(spec or process.spec, replacing=process)

    def _exited(self, process: ManagedProcess) -> None:
        if not process.stopping:
            self._exits.put(process)

    def wait_for_unexpected_exit(self, poll_seconds: float = 0.5) -> ManagedProcess:
        """Block until a child exits without being asked to; signals interrupt via StopRequested."""
        while True:
            try:
                return self._exits.get(timeout=poll_seconds)
            except queue.Empty:
                continue

    def unexpected_exit(self) -> ManagedProcess | None:
        """A child that exited without being asked to since the last call, if any (no wait)."""
        try:
            return self._exits.get_nowait()
        except queue.Empty:
            return None

    def describe_exit(self, process: ManagedProcess) -> str:
        where = f" (log: {process.spec.log_file})" if process.spec.log_file else ""
        return f"{process.name} exited unexpectedly with code {process.popen.returncode}{where}"

    def stop_all(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        # Mark everything first so the shutdown of one child is not reported as a crash.
        for process in self.processes:
            process.stopping = True
        for process in reversed(self.processes):
            process.stop(timeout)
        self.processes.clear()

    def kill_all(self) -> None:
        """For a second Ctrl-C: do not make the user wait for graceful shutdowns."""
        for process in self.processes:
            process.kill()


def check_port_free(
    port: int, name: str, env_var: str | None = None, host: str = "127.0.0.1"
) -> None:
    """Fail before anything starts, with one line naming the port, its owner and the override."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Servers set SO_REUSEADDR, so lingering TIME_WAIT connections must not count as busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            hint = f" or set {env_var}" if env_var else ""
            raise DevstackError(
                f"port {port} ({name}) is already in use: stop what uses it{hint}"
            ) from None


def find_free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def find_free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free ports: every probe stays bound until all are chosen, so the kernel
    cannot hand the same port out twice (separate find_free_port calls can, and did)."""
    probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((host, 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    process: ManagedProcess | None = None,
    interval: float = 0.1,
) -> None:
    """Poll `ready`; fail fast with one line if the process died, or after `timeout`."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and not process.running():
            where = f" (log: {process.spec.log_file})" if process.spec.log_file else ""
            raise DevstackError(
                f"{what} exited during startup with code {process.popen.returncode}{where}"
            )
        if time.monotonic() > deadline:
            where = ""
            if process is not None and process.spec.log_file:
                where = f" (log: {process.spec.log_file})"
            raise DevstackError(f"{what} was not ready within {timeout:.0f}s{where}")
        time.sleep(interval)


def port_accepts_connections(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
