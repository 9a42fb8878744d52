"""`make lambda-package`: what each zip holds, what it leaves out, and that the template
deploys exactly the handlers and runtime the zips were built for."""

import json
import subprocess
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from payments_devstack.containers.engine import REPO
from payments_devstack.lambda_package.build import SCRATCH_PREFIX
from payments_devstack.lambda_package.functions import (
    DEV_ONLY,
    FUNCTIONS,
    GLIBC,
    RUNTIME,
    UNZIPPED_LIMIT_BYTES,
    LambdaFunction,
)
from payments_devstack.lambda_package.requirements import normalized, parse
from payments_devstack.lambda_package.site import platform_tags
from tests.deploy.conftest import LambdaZips
from tests.deploy.packaged import clean_python, unzip
from tests.deploy.template import parameter, resources

FUNCTION_IDS = [function.name for function in FUNCTIONS]


def top_level_names(archive: zipfile.ZipFile) -> set[str]:
    return {PurePosixPath(name).parts[0] for name in archive.namelist()}


@pytest.mark.parametrize("function", FUNCTIONS, ids=FUNCTION_IDS)
def test_a_zip_holds_its_service_and_the_library_but_nothing_dev_only(
    lambda_zips: LambdaZips, function: LambdaFunction
) -> None:
    with zipfile.ZipFile(lambda_zips.path(function.name)) as archive:
        names = top_level_names(archive)
    module = function.handlers[0].split(".")[0]
    assert {module, "payments_core"} <= names
    dev_only_modules = {name.replace("-", "_") for name in DEV_ONLY} | {"tests", "bin"}
    assert not names & dev_only_modules
    for left_out, _why in function.left_out:
        assert left_out.replace("-", "_") not in names


@pytest.mark.parametrize("function", FUNCTIONS, ids=FUNCTION_IDS)
def test_every_module_ships_compiled_for_the_runtime(
    lambda_zips: LambdaZips, function: LambdaFunction
) -> None:
    """/var/task is read-only: a module without bytecode is compiled again at every cold start."""
    tag = "cpython-" + RUNTIME.removeprefix("python").replace(".", "")
    with zipfile.ZipFile(lambda_zips.path(function.name)) as archive:
        names = set(archive.namelist())
    sources = [name for name in names if name.endswith(".py")]
    missing = [
        source
        for source in sources
        if str(
            PurePosixPath(source).parent / "__pycache__" / f"{PurePosixPath(source).stem}.{tag}.pyc"
        )
        not in names
    ]
    assert sources
    assert missing == []


@pytest.mark.parametrize("function", FUNCTIONS, ids=FUNCTION_IDS)
def test_the_manifest_describes_each_zip(lambda_zips: LambdaZips, function: LambdaFunction) -> None:
    built = lambda_zips.built[function.name]
    with zipfile.ZipFile(lambda_zips.path(function.name)) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
        files = len(archive.infolist())
    assert (built.unzipped_bytes, built.files) == (unzipped, files)
    assert built.unzipped_bytes <= UNZIPPED_LIMIT_BYTES
    assert built.runtime == RUNTIME
    assert built.handlers == function.handlers


def test_the_template_runs_the_packaged_handlers_on_the_packaged_runtime() -> None:
    # Handler: !If [IsZip, <handler>, !Ref AWS::NoValue]; an image names its handler itself.
    deployed = {
        properties["Handler"]["Fn::If"][1]
        for properties in (f["Properties"] for f in resources("AWS::Lambda::Function").values())
    }
    assert deployed == {handler for function in FUNCTIONS for handler in function.handlers}
    runtime = parameter("Runtime")
    assert (runtime["Default"], runtime["AllowedValues"]) == (RUNTIME, [RUNTIME])


def test_uv_exports_blocks_are_split_into_wheels_and_workspace_members() -> None:
    exported = (
        "alembic==1.20.1 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        "cffi==2.1.1 ; platform_python_implementation != 'PyPy' \\\n    --hash=sha256:cc\n"
        "./packages/payments-core\n"
        "Typing_Extensions==4.16.0 \\\n    --hash=sha256:dd\n"
    )
    locked = parse(exported)
    assert set(locked.third_party) == {"alembic", "cffi", "typing-extensions"}
    assert locked.third_party["alembic"].count("--hash") == 2
    assert locked.workspace == ("./packages/payments-core",)
    assert set(locked.without({normalized("Typing_Extensions")}).third_party) == {"alembic", "cffi"}


def oldest_glibc(tags: list[str]) -> tuple[int, int] | None:
    """The oldest glibc a wheel's platform tags accept; None for a pure-Python wheel."""
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    versions = []
    for tag in tags:
        platform = tag.rsplit("-", 1)[-1]
        if platform == "any":
            return None
        name = platform.split("_")[0]
        if name in legacy:
            versions.append(legacy[name])
        elif platform.startswith("manylinux_"):
            _, major, minor, *_ = platform.split("_")
            versions.append((int(major), int(minor)))
    assert versions, f"not a manylinux wheel: {tags}"
    return min(versions)


@pytest.mark.parametrize("function", FUNCTIONS, ids=FUNCTION_IDS)
def test_every_native_wheel_loads_on_the_runtimes_glibc(
    lambda_zips: LambdaZips, function: LambdaFunction
) -> None:
    """python3.11 runs on Amazon Linux 2 (glibc 2.26): a wheel built for a newer glibc would
    import here and fail there."""
    with zipfile.ZipFile(lambda_zips.path(function.name)) as archive:
        wheel_files = [name for name in archive.namelist() if name.endswith(".dist-info/WHEEL")]
        too_new = {}
        for name in wheel_files:
            lines = archive.read(name).decode().splitlines()
            tags = [line.removeprefix("Tag:").strip() for line in lines if line.startswith("Tag:")]
            oldest = oldest_glibc(tags)
            if oldest is not None and oldest > GLIBC:
                too_new[name] = tags
    assert wheel_files
    assert too_new == {}


def test_platform_tags_reach_down_from_the_runtimes_glibc() -> None:
    tags = platform_tags("arm64")
    assert tags[0] == "manylinux_2_26_aarch64"
    assert "manylinux_2_27_aarch64" not in tags
    assert {"manylinux_2_17_aarch64", "manylinux2014_aarch64"} <= set(tags)


IMPORT_ALONE = """
import importlib, json, sys
task = sys.argv[1]
sys.path.insert(0, task)
for handler in sys.argv[2:]:
    module, _, name = handler.rpartition(".")
    getattr(importlib.import_module(module), name)
print(json.dumps({"path": sys.path, "base": sys.base_prefix, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize("function", FUNCTIONS, ids=FUNCTION_IDS)
def test_each_handler_imports_from_its_zip_alone(
    lambda_zips: LambdaZips, function: LambdaFunction, tmp_path: Path
) -> None:
    """A clean Python of the runtime's version, nothing on sys.path but the unzipped task root
    and the standard library, finds every handler: the zip needs nothing it does not hold."""
    root = unzip(lambda_zips.path(function.name), tmp_path / "task")
    result = subprocess.run(
        [clean_python(), "-I", "-S", "-c", IMPORT_ALONE, str(root), *function.handlers],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    others = [p for p in report["path"] if p != str(root) and not p.startswith(report["base"])]
    assert others == []
    assert "awslambdaric" not in report["modules"]
    assert {name.replace("-", "_") for name, _ in function.left_out}.isdisjoint(report["modules"])


@pytest.mark.parametrize("function", FUNCTIONS, ids=FUNCTION_IDS)
def test_nothing_in_a_zip_names_the_build(
    lambda_zips: LambdaZips, function: LambdaFunction
) -> None:
    """So the same commit gives the same bytes from any checkout: no console script (they carry
    the checkout's interpreter), no direct_url.json, no RECORD line for either, and no file that
    mentions the checkout or the build's scratch directory."""
    checkout = str(REPO).encode()
    with zipfile.ZipFile(lambda_zips.path(function.name)) as archive:
        names = archive.namelist()
        mentions = [
            name
            for name in names
            if SCRATCH_PREFIX.encode() in (data := archive.read(name)) or checkout in data
        ]
        records = [archive.read(n).decode() for n in names if n.endswith(".dist-info/RECORD")]
    assert not [name for name in names if name.startswith("bin/")]
    assert not [name for name in names if name.endswith("direct_url.json")]
    assert not [r for r in records if "../../bin/" in r or "direct_url.json" in r]
    assert mentions == []
