"""A reproducible zip: the same files give the same bytes, whenever and wherever it is built."""

import hashlib
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

# Zip's earliest date: no build time in the archive.
EPOCH = (1980, 1, 1, 0, 0, 0)
# zlib's default: level 9 made the zips 1% smaller and took twice as long.
COMPRESS_LEVEL = 6


@dataclass(frozen=True)
class Archive:
    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    sha256: str


def write_zip(site: Path, destination: Path) -> Archive:
    """Every file under `site`, in sorted order, with fixed times and modes (executable kept:
    a native library or a helper binary may need it)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    unzipped, files = 0, 0
    # Each entry carries its own compression: ZipFile's defaults do not reach a ZipInfo's.
    with zipfile.ZipFile(destination, "w") as archive:
        for path in sorted(_files(site)):
            info = zipfile.ZipInfo(path.relative_to(site).as_posix(), date_time=EPOCH)
            info.create_system = 3  # Unix, so the modes below are read
            executable = path.stat().st_mode & stat.S_IXUSR
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)
            unzipped += len(data)
            files += 1
    digest = hashlib.sha256(destination.read_bytes()).hexdigest()
    return Archive(destination, destination.stat().st_size, unzipped, files, digest)


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, _, names in os.walk(root):
        found.extend(Path(directory) / name for name in names)
    return found
