"""A busy port stops `make up` before anything starts, with one line naming it."""

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from payments_devstack.errors import DevstackError
from payments_devstack.processes import check_port_free, find_free_port, find_free_ports


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_busy_port_is_named_with_its_override(busy_port: int) -> None:
    with pytest.raises(DevstackError) as raised:
        check_port_free(busy_port, "API", "API_PORT")
    assert str(raised.value) == (
        f"port {busy_port} (API) is already in use: stop what uses it or set API_PORT"
    )


def test_a_free_port_passes() -> None:
    check_port_free(find_free_port(), "API", "API_PORT")


def test_make_up_reports_a_busy_port_in_one_line_and_starts_nothing(
    busy_port: int, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "API_PORT": str(busy_port),
        "MOTO_PORT": str(find_free_port()),
        "TEMPORAL_PORT": str(find_free_port()),
        "TEMPORAL_UI_PORT": str(find_free_port()),
        "POSTGRES_PORT": str(find_free_port()),
        "WEBHOOK_RECEIVER_PORT": str(find_free_port()),
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "payments_devstack", "up"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    # Without the elapsed-time column, which depends on the machine.
    lines = [re.sub(r"\[\s*[\d.]+s\] ", "", line) for line in result.stdout.splitlines()]
    errors = [line for line in lines if "error:" in line]
    assert errors == [
        f"devstack | error: port {busy_port} (API) is already in use: "
        "stop what uses it or set API_PORT; stopping everything"
    ]
    assert not (tmp_path / ".data" / "postgres").exists()


def test_free_ports_asked_together_are_distinct() -> None:
    ports = find_free_ports(50)
    assert len(set(ports)) == 50
