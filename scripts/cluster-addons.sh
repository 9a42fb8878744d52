#!/usr/bin/env bash
# The cluster add-ons the chart relies on, from their public charts at pinned versions, with the
# values in k8s/values/: KEDA always, kube-prometheus-stack with --kube-prometheus-stack.
# `make kind-up` runs it against the kind cluster; it works on any cluster helm can reach.
#
#   bash scripts/cluster-addons.sh [--kube-prometheus-stack]
#
# HELM (default: the pinned one in .tools/bin, else helm) and KUBE_CONTEXT (default: the current
# context) select the CLI and the cluster. Idempotent: `helm upgrade --install`. Installed once per cluster rather than by
# skaffold, whose `dev` uninstalls what it deployed on exit, and KEDA's CRDs (with every
# ScaledObject) would go with it.
set -euo pipefail

KEDA_CHART_VERSION=2.19.0
KUBE_PROMETHEUS_STACK_CHART_VERSION=79.12.0

cd "$(dirname "$0")/.."
KUBE_CONTEXT="${KUBE_CONTEXT:-}"
# The pinned helm of scripts/k8s-tools.sh when it is there, else the one on PATH.
if [ -z "${HELM:-}" ]; then
    HELM="${TOOLS_DIR:-$PWD/.tools/bin}/helm"
    [ -x "$HELM" ] || HELM=helm
fi

with_kube_prometheus_stack=false
for arg in "$@"; do
    case "$arg" in
        --kube-prometheus-stack) with_kube_prometheus_stack=true ;;
        *) echo "usage: bash scripts/cluster-addons.sh [--kube-prometheus-stack]" >&2; exit 2 ;;
    esac
done

log() { echo "cluster-addons: $*" >&2; }

if ! command -v "$HELM" >/dev/null 2>&1; then
    log "helm not found: run bash scripts/k8s-tools.sh, or install helm"
    exit 1
fi

# First, so that its CRDs exist when KEDA's ServiceMonitors are created.
if $with_kube_prometheus_stack; then
    log "kube-prometheus-stack $KUBE_PROMETHEUS_STACK_CHART_VERSION (namespace monitoring)"
    "$HELM" upgrade --install kube-prometheus-stack kube-prometheus-stack \
        --repo https://prometheus-community.github.io/helm-charts \
        --version "$KUBE_PROMETHEUS_STACK_CHART_VERSION" \
        --namespace monitoring --create-namespace \
        --values k8s/values/kube-prometheus-stack.yaml \
        --kube-context "$KUBE_CONTEXT" --wait --timeout 10m
fi

log "KEDA $KEDA_CHART_VERSION (namespace keda)"
"$HELM" upgrade --install keda keda \
    --repo https://kedacore.github.io/charts \
    --version "$KEDA_CHART_VERSION" \
    --namespace keda --create-namespace \
    --values k8s/values/keda.yaml \
    --set "prometheus.operator.serviceMonitor.enabled=$with_kube_prometheus_stack" \
    --set "prometheus.metricServer.serviceMonitor.enabled=$with_kube_prometheus_stack" \
    --set "prometheus.webhooks.serviceMonitor.enabled=$with_kube_prometheus_stack" \
    --kube-context "$KUBE_CONTEXT" --wait --timeout 5m
