"""The chart's pods, played by `make kube-play`, run the platform end to end.

A payment goes through the containerised API, processor and worker and its webhooks arrive
signed; every container runs as the chart says (UID 10001, read-only root, a writable /tmp);
every probe path the chart declares answers; SIGTERM ends each container within its grace
period without losing a payment; a SIGKILLed worker comes back and finishes what arrived while
it was down.
"""

import os
import re
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from payments_devstack.containers.engine import Engine
from payments_devstack.containers.pods import pods_file, probe_answers
from payments_devstack.containers.rendering import Container, containers
from tests.containers.conftest import KubePlay

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

COMPLETED_WITHIN_SECONDS = 60.0
EXPECTED_MODULES = {
    "api": "payments_api",
    "worker": "payments_worker",
    "payment-processor": "payments_processor",
    "webhook-sender": "payments_webhook_sender",
}


def played(kube_play: KubePlay) -> list[Container]:
    documents = yaml.safe_load_all(pods_file(kube_play.data).read_text())
    return containers([d for d in documents if d and d["kind"] == "Deployment"])


def create_payment(kube_play: KubePlay) -> str:
    response = httpx.post(
        f"{kube_play.api}/payments",
        headers={
            "X-API-Key": kube_play.summary["demo API key"],
            "Idempotency-Key": f"containers-{uuid.uuid4()}",
        },
        json={
            "amount": 12345,
            "currency": "NGN",
            "paymentMethodId": kube_play.summary["payment method"],
            "description": "through the containers",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    payment_id: str = response.json()["data"]["id"]
    return payment_id


def wait_completed(kube_play: KubePlay, payment_id: str) -> float:
    """Seconds from now until the API reports the payment completed."""
    started = time.monotonic()
    status = None
    while time.monotonic() - started < COMPLETED_WITHIN_SECONDS:
        response = httpx.get(
            f"{kube_play.api}/payments/{payment_id}",
            headers={"X-API-Key": kube_play.summary["demo API key"]},
            timeout=10,
        )
        if response.status_code == 200:
            status = response.json()["data"]["status"]
            if status == "completed":
                return time.monotonic() - started
            assert status in ("pending", "processing"), response.text
        time.sleep(0.2)
    raise AssertionError(f"payment {payment_id} still {status} after {COMPLETED_WITHIN_SECONDS} s")


def wait_webhooks(kube_play: KubePlay, payment_id: str) -> None:
    """The receiver verified each event's signature with the endpoint's secret."""
    for event in ("payment.initiated", "payment.processing", "payment.completed"):
        line = kube_play.wait_for_line(rf"receiver \| webhook {event} \S+ payment {payment_id}", 60)
        assert "signature ok" in line.string, line.string


def state(engine: Engine, container: Container) -> tuple[str, int]:
    result = engine.run(
        "inspect", "--format", "{{.State.Status}} {{.RestartCount}}", container.engine_name
    )
    status, restarts = result.stdout.split()
    return status, int(restarts)


def signal_process(engine: Engine, container: Container, number: signal.Signals) -> None:
    """Signal the container's process from the host, as the kernel's OOM killer or a kubelet
    would (`podman kill` counts as a stop by the user, after which podman restarts nothing)."""
    pid = int(engine.run("inspect", "--format", "{{.State.Pid}}", container.engine_name).stdout)
    assert pid > 0, f"{container.engine_name} is not running"
    os.kill(pid, number)


def started_lines(kube_play: KubePlay) -> int:
    return sum(
        1
        for line in list(kube_play.lines)
        if line.startswith("worker") and "worker.started" in line
    )


def wait_ready_again(container: Container, restarts_before: int, engine: Engine) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, restarts = state(engine, container)
        port, path = container.probes["readinessProbe"]
        if status == "running" and restarts > restarts_before and probe_answers(port, path):
            return
        time.sleep(0.3)
    raise AssertionError(f"{container.engine_name} did not come back: {state(engine, container)}")


def test_a_payment_completes_through_the_containers_and_its_webhooks_arrive_signed(
    kube_play: KubePlay,
) -> None:
    payment_id = create_payment(kube_play)
    wait_completed(kube_play, payment_id)
    wait_webhooks(kube_play, payment_id)
    # Each service's own lines, from inside its container, name the payment (podman's log
    # follower may print them a moment after the webhooks arrived).
    for name in ("api", "worker", "webhook-sender"):
        kube_play.wait_for_line(rf"^{re.escape(name)}\s*\|.*{payment_id}", 15)


def test_the_four_deployments_and_both_hooks_ran_in_containers(kube_play: KubePlay) -> None:
    assert {c.name for c in played(kube_play)} == set(EXPECTED_MODULES)
    output = kube_play.output()
    for hook in ("payments-provision", "payments-migrations"):
        assert f"hook pod {hook} completed" in output


def test_every_container_runs_as_10001_with_a_read_only_root_and_a_writable_tmp(
    kube_play: KubePlay, engine: Engine
) -> None:
    for container in played(kube_play):
        name = container.engine_name
        assert engine.run("exec", name, "id", "-u").stdout.strip() == "10001"
        command = engine.run("exec", name, "cat", "/proc/1/cmdline").stdout.split("\0")
        assert command[:3] == ["python", "-m", EXPECTED_MODULES[container.name]], command
        written = engine.run("exec", name, "touch", "/written-by-the-test", check=False)
        assert written.returncode != 0
        assert "Read-only file system" in written.stderr
        engine.run("exec", name, "sh", "-c", "echo ok > /tmp/written && cat /tmp/written")


def test_every_probe_path_the_chart_declares_answers_200(kube_play: KubePlay) -> None:
    declared = [
        (container.name, probe, port, path)
        for container in played(kube_play)
        for probe, (port, path) in container.probes.items()
    ]
    assert len(declared) == 12, declared  # startup, liveness and readiness of four containers
    failing = [entry for entry in declared if not probe_answers(entry[2], entry[3])]
    assert not failing


def test_sigterm_ends_each_container_within_its_grace_period_losing_no_payment(
    kube_play: KubePlay, engine: Engine
) -> None:
    for container in played(kube_play):
        in_flight = [create_payment(kube_play) for _ in range(3)]
        _, restarts = state(engine, container)
        started = time.monotonic()
        signal_process(engine, container, signal.SIGTERM)
        while state(engine, container)[0] == "running" and state(engine, container)[1] == restarts:
            assert time.monotonic() - started < container.grace_seconds, container.engine_name
            time.sleep(0.1)
        stopped_after = time.monotonic() - started
        assert stopped_after < container.grace_seconds, (container.name, stopped_after)
        wait_ready_again(container, restarts, engine)
        for payment_id in in_flight:
            wait_completed(kube_play, payment_id)
            wait_webhooks(kube_play, payment_id)


def test_a_killed_worker_comes_back_and_completes_what_came_while_it_was_down(
    kube_play: KubePlay, engine: Engine
) -> None:
    (worker,) = [c for c in played(kube_play) if c.name == "worker"]
    _, restarts = state(engine, worker)
    signal_process(engine, worker, signal.SIGKILL)
    payment_id = create_payment(kube_play)
    assert not probe_answers(*worker.probes["readinessProbe"]), "the worker answered while down"
    wait_ready_again(worker, restarts, engine)
    # Its lines are followed across every restart, each start's first lines included, none
    # twice: one `worker.started` per start.
    starts = state(engine, worker)[1] + 1
    deadline = time.monotonic() + 15
    while started_lines(kube_play) < starts and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started_lines(kube_play) == starts
    wait_completed(kube_play, payment_id)
    wait_webhooks(kube_play, payment_id)
    # Reported by make kube-play's watch, which looks every 2 s: the payment may be quicker.
    kube_play.wait_for_line("worker restarted by its pod's restart policy", timeout=10)


def test_kube_play_honours_the_ports_and_variables_it_is_given(
    kube_play: KubePlay, engine: Engine
) -> None:
    response = httpx.get(f"{kube_play.api}/health", timeout=5)
    assert response.status_code == 200
    by_name = {c.name: c for c in played(kube_play)}
    assert by_name["worker"].probes["livenessProbe"][0] == kube_play.ports["WORKER_HEALTH_PORT"]
    assert (
        by_name["webhook-sender"].probes["readinessProbe"][0]
        == (kube_play.ports["WEBHOOKS_HEALTH_PORT"])
    )
    assert Path(kube_play.data, "kube-play", "pods.yaml").exists()
    variables = {
        "api": ("RATE_LIMIT_PER_MINUTE", "100000"),
        "webhook-sender": ("WEBHOOK_RETRY_SCHEDULE", "1,1,1,1,1"),
    }
    for name, (variable, value) in variables.items():
        container = by_name[name].engine_name
        assert engine.run("exec", container, "printenv", variable).stdout.strip() == value
