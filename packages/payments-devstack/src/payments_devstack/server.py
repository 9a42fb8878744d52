"""What the infrastructure launchers share: spawn a `ServiceSpec`, wait for it, stop it."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from payments_devstack.processes import ManagedProcess, OutputWriter, ServiceSpec, Supervisor


class InfrastructureServer(ABC):
    """One child process: under a `Supervisor` (`make up`) or on its own (tests, `with`)."""

    def __init__(self) -> None:
        self._process: ManagedProcess | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.popen.pid if self._process is not None else None

    def start(self, supervisor: Supervisor | None = None) -> Self:
        self.spawn(supervisor)
        self.wait_ready()
        return self

    def spawn(self, supervisor: Supervisor | None = None) -> ManagedProcess:
        """Prepare what the server needs on disk and launch it without waiting for it."""
        self._prepare()
        spec = self._spec()
        if supervisor is not None:
            self._process = supervisor.start(spec, replacing=self._process)
        else:
            self._process = ManagedProcess(spec, OutputWriter())
        return self._process

    @abstractmethod
    def wait_ready(self, timeout: float = ...) -> None:
        """Block until the server answers, or raise once `timeout` seconds have passed."""

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def restart(
        self, supervisor: Supervisor | None = None, *, kill: bool = False, down_seconds: float = 0
    ) -> None:
        """Stop the server (SIGKILL with `kill`: a crash), keep it down for `down_seconds`, start
        it again on the same data and port, in the same place of the supervisor's stop order,
        and wait until it answers."""
        if self._process is not None:
            if kill and supervisor is not None:
                supervisor.kill(self._process)
            elif kill:
                self._process.kill()
                self._process.popen.wait()
            else:
                self._process.stop()
        time.sleep(down_seconds)
        self.spawn(supervisor)
        self.wait_ready()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _prepare(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Runs before `_spec()` on every spawn; nothing by default."""

    @abstractmethod
    def _spec(self) -> ServiceSpec:
        """The command line and settings of the child process."""
