#!/usr/bin/env bash
# Local substitutes for the Dockerfile's two bases, for machines that reach no container registry
# (only PyPI and Debian's mirrors): prints the two image names as build arguments.
#
#   python  Debian bookworm with Debian's Python 3.11 (debootstrap, about 30 s), in place of
#           python:3.11.14-slim-bookworm: the same distribution, another build of 3.11
#   uv      uv's binary out of its PyPI wheel, alone in an image, in place of ghcr.io/astral-sh/uv
#
# Each is built once and kept (`podman image rm` them to rebuild). Needs root (debootstrap) and
# the engine in $ENGINE.
set -euo pipefail

ENGINE="${ENGINE:-podman}"
UV_VERSION="${UV_VERSION:?UV_VERSION: the uv that wrote uv.lock (the Makefile pins it)}"
PYTHON_BASE="${PYTHON_BASE:-localhost/payments-python:3.11-bookworm}"
UV_BASE="${UV_BASE:-localhost/payments-uv:$UV_VERSION}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { echo "images: $*" >&2; }

exists() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

# Each build runs in a subshell, so its EXIT trap cleans up its own scratch directory only.
build_python_base() (
    command -v debootstrap >/dev/null || {
        log "debootstrap not found: apt-get install debootstrap (or build where a registry is reachable)"
        exit 1
    }
    local root started
    root="$(mktemp -d)"
    trap 'rm -rf "$root" "$root.log"' EXIT
    started=$SECONDS
    log "building $PYTHON_BASE: debootstrap of bookworm with python3.11 (about 30 s)"
    debootstrap --variant=minbase --include=python3.11,ca-certificates bookworm "$root" \
        "$DEBIAN_MIRROR" >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; exit 1; }
    rm -f "$root.log"
    # What an image needs not carry: package lists and downloaded .debs, documentation.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
        "$root"/usr/share/man/* "$root"/usr/share/locale/*
    tar -C "$root" -c . | "$ENGINE" import --quiet \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3.11"]' - "$PYTHON_BASE" >/dev/null
    log "built $PYTHON_BASE in $((SECONDS - started)) s"
)

build_uv_base() (
    local work
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    log "building $UV_BASE: uv $UV_VERSION from its PyPI wheel"
    # uv itself fetches it where it is installed (under `make`, python3 is a venv without pip).
    if command -v uv >/dev/null; then
        uv pip install --quiet --no-deps --target "$work/site" "uv==$UV_VERSION"
        cp "$work/site/bin/uv" "$work/uv"
    else
        python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" \
            "uv==$UV_VERSION"
        python3 - "$work" <<'PY'
import pathlib, sys, zipfile
work = pathlib.Path(sys.argv[1])
(wheel,) = work.glob("uv-*.whl")
with zipfile.ZipFile(wheel) as archive:
    (member,) = [n for n in archive.namelist() if n.endswith(".data/scripts/uv")]
    (work / "uv").write_bytes(archive.read(member))
(work / "uv").chmod(0o755)
PY
    fi
    tar -C "$work" -c uv | "$ENGINE" import --quiet - "$UV_BASE" >/dev/null
)

exists "$PYTHON_BASE" || build_python_base
exists "$UV_BASE" || build_uv_base
echo "--build-arg PYTHON_IMAGE=$PYTHON_BASE --build-arg UV_IMAGE=$UV_BASE"
