"""A function's code as Lambda unzips it into /var/task: its locked wheels for the target CPU and
runtime, installed flat, plus our workspace packages, compiled to bytecode.

Wheels only (`--only-binary`): nothing is compiled on this machine for another one, so an
arm64 zip built on x86_64 holds the same files a build on arm64 would.
"""

import compileall
import hashlib
import py_compile
import shutil
import sys
import tomllib
from pathlib import Path

from payments_devstack.errors import DevstackError
from payments_devstack.lambda_package.commands import run
from payments_devstack.lambda_package.functions import (
    DEV_ONLY,
    GLIBC,
    PYTHON_VERSION,
    WHEEL_MACHINE,
    LambdaFunction,
)
from payments_devstack.lambda_package.requirements import LockedRequirements, export, normalized

# Lambda's Python puts the function's code here; tracebacks name these paths.
TASK_ROOT = "/var/task"


def platform_tags(architecture: str) -> list[str]:
    """Every manylinux tag the runtime's glibc can load, newest first (pip takes them as given
    and does not infer the older ones)."""
    machine = WHEEL_MACHINE[architecture]
    major, newest = GLIBC
    tags = [f"manylinux_{major}_{minor}_{machine}" for minor in range(newest, 4, -1)]
    legacy = ("manylinux2014", "manylinux2010", "manylinux1")
    return tags + [f"{alias}_{machine}" for alias in legacy]


def locked_requirements(repo: Path, function: LambdaFunction) -> LockedRequirements:
    locked = export(repo, function.name)
    members = {_member_name(repo / path) for path in locked.workspace}
    shipped_dev_only = (members | set(locked.third_party)) & DEV_ONLY
    if shipped_dev_only:
        raise DevstackError(f"{function.name} would ship dev-only {sorted(shipped_dev_only)}")
    left_out = {normalized(name) for name, _ in function.left_out}
    stale = left_out - set(locked.third_party)
    if stale:
        # A left-out entry nothing locks any more is a list gone out of date: say so.
        raise DevstackError(f"{function.name} leaves out {sorted(stale)}, which it does not lock")
    return locked.without(left_out)


def build_workspace_wheels(repo: Path, locked: LockedRequirements, out_dir: Path) -> list[Path]:
    """Our own packages as wheels (their build decides what ships, as for any wheel)."""
    wheels = []
    for path in locked.workspace:
        name = _member_name(repo / path)
        before = set(out_dir.glob("*.whl"))
        command = ["uv", "build", "--quiet", "--wheel", "--package", name, "--out-dir", out_dir]
        run([str(part) for part in command], cwd=repo, what=f"uv build {name}")
        (wheel,) = set(out_dir.glob("*.whl")) - before
        wheels.append(wheel)
    return wheels


def install(
    locked: LockedRequirements, wheels: list[Path], architecture: str, site: Path, work: Path
) -> None:
    """The locked wheels for `architecture`, hashes checked, into `site`, flat as Lambda wants."""
    lines = list(locked.third_party.values())
    lines += [f"{wheel} --hash=sha256:{_sha256(wheel)}" for wheel in wheels]
    requirements = work / f"requirements-{architecture}.txt"
    requirements.write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site),
        "--python-version", PYTHON_VERSION, "--implementation", "cp",
        "--abi", "cp" + PYTHON_VERSION.replace(".", ""),
        "--only-binary=:all:", "--no-deps", "--require-hashes", "--no-compile",
        "--disable-pip-version-check", "-r", str(requirements),
    ]  # fmt: skip
    for tag in platform_tags(architecture):
        command += ["--platform", tag]
    run(command, cwd=work, what=f"pip install for {architecture}")
    _tidy(site)


def compile_bytecode(site: Path) -> None:
    """Bytecode for every module: /var/task is read-only, so without it Lambda's Python would
    compile each imported module again on every cold start. Unchecked hashes (PEP 552): valid
    whatever the files' times after unzipping, and the same bytes on every build."""
    compiled = compileall.compile_dir(
        site,
        ddir=TASK_ROOT,
        quiet=2,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not compiled:
        raise DevstackError(f"a module under {site} does not compile")


def _tidy(site: Path) -> None:
    """Drop what names this build rather than the code: console scripts (they start with this
    checkout's interpreter path, and nothing runs them) and direct_url.json (the scratch path of
    our own wheels), with their lines in each RECORD, whose hashes would differ too."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for direct_url in site.glob("*.dist-info/direct_url.json"):
        direct_url.unlink()
    for record in site.glob("*.dist-info/RECORD"):
        lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if not _names_the_build(line.split(",", 1)[0])]
        if len(kept) != len(lines):
            record.write_text("".join(kept), encoding="utf-8")


def _names_the_build(recorded: str) -> bool:
    # pip --target records console scripts relative to the package directory (../../bin/...).
    return recorded.startswith("../../bin/") or recorded.endswith(".dist-info/direct_url.json")


def _member_name(path: Path) -> str:
    with (path / "pyproject.toml").open("rb") as file:
        name: str = tomllib.load(file)["project"]["name"]
    return name


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
