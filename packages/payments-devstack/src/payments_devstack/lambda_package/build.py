"""One zip per function and architecture, and how each measures against Lambda's limits."""

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from payments_devstack.lambda_package.archive import Archive, write_zip
from payments_devstack.lambda_package.functions import (
    DIRECT_UPLOAD_LIMIT_BYTES,
    RUNTIME,
    UNZIPPED_LIMIT_BYTES,
    LambdaFunction,
)
from payments_devstack.lambda_package.site import (
    build_workspace_wheels,
    compile_bytecode,
    install,
    locked_requirements,
)

MANIFEST = "manifest.json"
SCRATCH_PREFIX = "lambda-package-"


@dataclass(frozen=True)
class Packaged:
    function: str
    architecture: str
    runtime: str
    handlers: tuple[str, ...]
    zip: str
    sha256: str
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    left_out: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return self.unzipped_bytes <= UNZIPPED_LIMIT_BYTES


def build(
    repo: Path,
    functions: Sequence[LambdaFunction],
    architectures: Sequence[str],
    out_dir: Path,
    *,
    bytecode: bool = True,
    progress: Callable[[str], None] = print,
) -> list[Packaged]:
    started = time.monotonic()

    def say(message: str) -> None:
        progress(f"[{time.monotonic() - started:5.1f}s] {message}")

    packaged = []
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as scratch:
        work = Path(scratch)
        for function in functions:
            locked = locked_requirements(repo, function)
            wheels_dir = work / function.name / "wheels"
            wheels_dir.mkdir(parents=True)
            wheels = build_workspace_wheels(repo, locked, wheels_dir)
            say(f"{function.name}: {len(locked.third_party)} locked wheels + {len(wheels)} ours")
            for architecture in architectures:
                site = work / function.name / architecture
                install(locked, wheels, architecture, site, work / function.name)
                if bytecode:
                    compile_bytecode(site)
                archive = write_zip(site, out_dir / function.zip_name(architecture))
                shutil.rmtree(site)
                packaged.append(_describe(function, architecture, archive))
                say(f"{archive.path.name}: {size_line(packaged[-1])}")
    _write_manifest(out_dir, packaged)
    return packaged


def size_line(item: Packaged) -> str:
    zipped, unzipped = item.zipped_bytes, item.unzipped_bytes
    return (
        f"{_mb(zipped)} zipped ({zipped / DIRECT_UPLOAD_LIMIT_BYTES:.0%} of the 50 MB direct "
        f"upload), {_mb(unzipped)} unzipped ({unzipped / UNZIPPED_LIMIT_BYTES:.0%} of 250 MB)"
    )


def _describe(function: LambdaFunction, architecture: str, archive: Archive) -> Packaged:
    return Packaged(
        function=function.name,
        architecture=architecture,
        runtime=RUNTIME,
        handlers=function.handlers,
        zip=archive.path.name,
        sha256=archive.sha256,
        zipped_bytes=archive.zipped_bytes,
        unzipped_bytes=archive.unzipped_bytes,
        files=archive.files,
        left_out=tuple(name for name, _ in function.left_out),
    )


def read_manifest(out_dir: Path) -> list[Packaged]:
    """What earlier builds left in `out_dir` (none when there is no manifest)."""
    path = out_dir / MANIFEST
    if not path.exists():
        return []
    entries = json.loads(path.read_text(encoding="utf-8"))
    return [
        Packaged(
            **{**entry, "handlers": tuple(entry["handlers"]), "left_out": tuple(entry["left_out"])}
        )
        for entry in entries
    ]


def _write_manifest(out_dir: Path, packaged: list[Packaged]) -> None:
    """What was built, for deploy scripts and the tests: which zip, its digest, its sizes. A
    build of some zips keeps the entries of the others."""
    names = {item.zip for item in packaged}
    kept = [item for item in read_manifest(out_dir) if item.zip not in names]
    entries = sorted(kept + packaged, key=lambda item: item.zip)
    text = json.dumps([asdict(item) for item in entries], indent=2) + "\n"
    (out_dir / MANIFEST).write_text(text, encoding="utf-8")


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
