"""The supervisor prefixes output, notices crashes and stops whole process groups."""

import io
import os
import sys
import time
from pathlib import Path

from payments_devstack.processes import (
    OutputWriter,
    ServiceSpec,
    Supervisor,
    wait_until,
)


def python(code: str) -> list[str]:
    return [sys.executable, "-u", "-c", code]


def quiet_supervisor() -> tuple[Supervisor, io.StringIO]:
    output = io.StringIO()
    return Supervisor(writer=OutputWriter(output, colour=False)), output


def is_gone(pid: int) -> bool:
    """Dead or a zombie: in a container, PID 1 may never reap orphans."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_each_line_is_prefixed_with_the_padded_service_name() -> None:
    supervisor, output = quiet_supervisor()
    code = "import sys, time; print('hello'); print('oops', file=sys.stderr); time.sleep(60)"
    supervisor.start(ServiceSpec(name="api", argv=python(code)))
    try:
        wait_until(lambda: "oops" in output.getvalue(), what="output", timeout=10)
    finally:
        supervisor.stop_all()
    lines = output.getvalue().splitlines()
    assert "api      | hello" in lines
    assert "api      | oops" in lines


def test_stop_all_stops_children_and_their_children() -> None:
    supervisor, output = quiet_supervisor()
    process = supervisor.start(
        ServiceSpec(name="shell", argv=["sh", "-c", "sleep 300 & echo $!; wait"])
    )
    wait_until(lambda: "shell    | " in output.getvalue(), what="grandchild pid", timeout=10)
    grandchild = int(output.getvalue().split("| ", 1)[1].split()[0])

    started = time.monotonic()
    supervisor.stop_all()

    assert time.monotonic() - started < 5
    assert not process.running()
    wait_until(lambda: is_gone(grandchild), what="grandchild exit", timeout=5)


def test_a_child_ignoring_sigterm_is_killed_after_the_timeout() -> None:
    supervisor, output = quiet_supervisor()
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready'); time.sleep(60)"
    )
    process = supervisor.start(ServiceSpec(name="stubborn", argv=python(code)))
    wait_until(lambda: "ready" in output.getvalue(), what="stubborn", timeout=10)

    supervisor.stop_all(timeout=0.5)

    assert process.popen.returncode == -9
    assert "stubborn | did not stop within" in output.getvalue()


def test_an_unexpected_exit_is_reported_in_one_line_naming_the_service(tmp_path: Path) -> None:
    supervisor, _ = quiet_supervisor()
    supervisor.start(ServiceSpec(name="sleeper", argv=python("import time; time.sleep(60)")))
    log_file = tmp_path / "crasher.log"
    supervisor.start(
        ServiceSpec(
            name="crasher",
            argv=python("print('bye'); raise SystemExit(3)"),
            log_file=log_file,
            echo=False,
        )
    )
    try:
        exited = supervisor.wait_for_unexpected_exit()
        message = supervisor.describe_exit(exited)
    finally:
        supervisor.stop_all()

    assert message == f"crasher exited unexpectedly with code 3 (log: {log_file})"
    assert log_file.read_text() == "bye\n"


def test_children_stopped_on_purpose_are_not_reported_as_crashes() -> None:
    supervisor, _ = quiet_supervisor()
    supervisor.start(ServiceSpec(name="sleeper", argv=python("import time; time.sleep(60)")))
    supervisor.stop_all()
    assert supervisor._exits.empty()


def test_the_environment_reaches_the_child() -> None:
    supervisor, output = quiet_supervisor()
    env = {**os.environ, "GREETING": "from the spec"}
    supervisor.start(
        ServiceSpec(name="env", argv=python("import os; print(os.environ['GREETING'])"), env=env)
    )
    try:
        wait_until(lambda: "from the spec" in output.getvalue(), what="output", timeout=10)
    finally:
        supervisor.stop_all()
