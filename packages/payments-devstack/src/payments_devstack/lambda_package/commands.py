"""The build's tools (uv, pip) as subprocesses: their output, or a DevstackError saying why."""

import subprocess
from pathlib import Path

from payments_devstack.errors import DevstackError


def run(command: list[str], *, cwd: Path, what: str) -> str:
    """Run `command` in `cwd` and return its standard output; a failure raises with its own."""
    result = subprocess.run(  # noqa: S603 - uv and pip with our own arguments
        command, cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise DevstackError(f"{what} failed:\n{output}")
    return result.stdout
