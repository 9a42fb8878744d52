#!/bin/sh
# Run by skaffold before it installs the chart (deploy.helm.hooks in skaffold.yaml): the chart's
# ScaledObjects need KEDA's CRDs, and its migrations hook needs PostgreSQL to answer. skaffold
# applies k8s/dev just before and would otherwise install the chart at once, with no wait.
set -eu

context="${SKAFFOLD_KUBE_CONTEXT:-}"
kube() {
    if [ -n "$context" ]; then kubectl --context "$context" "$@"; else kubectl "$@"; fi
}

if ! kube get crd scaledobjects.keda.sh >/dev/null 2>&1; then
    echo "KEDA is not installed in this cluster: run 'make kind-up' (or bash scripts/cluster-addons.sh)" >&2
    exit 1
fi
# The kind values turn the ServiceMonitors and PrometheusRules on; without kube-prometheus-stack
# helm will refuse them, so say why first.
if ! kube get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1; then
    echo "warning: kube-prometheus-stack is not installed: run 'make kind-up', or turn metrics.* off in the chart's values" >&2
fi

for workload in statefulset/postgresql deployment/temporal deployment/aws-emulator; do
    kube --namespace payments-dev rollout status "$workload" --timeout=300s
done
