"""The per-fault reading of a chaos run's output, on samples shaped like a real run's: one
recovery line for the whole run must not stand in for every fault's."""

from tests.chaos.fault_lines import fault_problems

EXPECTED = ("SIGKILL api", "SIGKILL worker", "receiver down")
RECOVERED = """\
chaos    | [ 30.1s] test cards registered; payments and faults start
api      | {"event": "api.request", "path": "/api/v1/payments"}
chaos    | [ 32.1s] fault: SIGKILL api, restart
chaos    | [ 34.0s] fault: SIGKILL api, restart: recovered in 1.9 s
chaos    | [ 36.0s] fault: SIGKILL worker, restart
worker   | {"event": "worker.started"}
chaos    | [ 38.2s] fault: SIGKILL worker, restart: recovered in 2.2 s
chaos    | [ 40.2s] fault: receiver down 8 s, then up
chaos    | [ 48.4s] fault: receiver down 8 s, then up: recovered in 8.2 s
chaos    |   fault SIGKILL api, restart: recovered in 1.9 s
chaos    | violations: 0
"""


def test_a_run_whose_faults_each_recovered_has_no_problem() -> None:
    assert fault_problems(RECOVERED, EXPECTED) == []


def test_a_fault_without_its_own_recovery_line_is_named() -> None:
    # The other faults' recovery lines (and the final table's notes) are still in the output.
    output = RECOVERED.replace(
        "chaos    | [ 38.2s] fault: SIGKILL worker, restart: recovered in 2.2 s\n", ""
    )
    assert "recovered in" in output  # what the old, whole-output check looked for
    assert fault_problems(output, EXPECTED) == ["SIGKILL worker, restart: struck, never recovered"]


def test_a_fault_never_struck_is_named() -> None:
    output = "\n".join(line for line in RECOVERED.splitlines() if "receiver" not in line)
    assert fault_problems(output, EXPECTED) == ["receiver down: never struck"]


def test_a_new_fault_must_recover_too() -> None:
    # Faults not in the expected list (added to the chaos package later) are held to it as well.
    output = RECOVERED + "chaos    | [ 50.0s] fault: SIGSTOP PostgreSQL 5 s\n"
    assert fault_problems(output, EXPECTED) == ["SIGSTOP PostgreSQL 5 s: struck, never recovered"]


def test_a_recovery_time_that_is_not_seconds_is_named() -> None:
    output = RECOVERED.replace("recovered in 2.2 s", "recovered in nan s")
    assert fault_problems(output, EXPECTED) == ["SIGKILL worker, restart: recovered in 'nan' s"]


def test_a_recovery_for_a_fault_not_struck_is_named() -> None:
    output = RECOVERED.replace("chaos    | [ 36.0s] fault: SIGKILL worker, restart\n", "")
    assert fault_problems(output, EXPECTED) == [
        "SIGKILL worker, restart: recovered without being struck",
        "SIGKILL worker: never struck",
    ]
