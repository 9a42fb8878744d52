# One entry point for people and CI. Needs only python3 (with pip) and make: `make install`
# fetches uv, and uv fetches everything else (Python packages, PostgreSQL, Temporal, moto).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# pip --user puts uv in the user base (~/.local/bin on Linux, ~/Library/Python/X.Y/bin on macOS),
# which is often not on PATH yet in a fresh shell or a CI container.
PYTHON ?= python3
USER_BIN := $(shell $(PYTHON) -m site --user-base 2>/dev/null)/bin
export PATH := $(USER_BIN):$(HOME)/.local/bin:$(HOME)/.cargo/bin:$(PATH)

# The uv that wrote uv.lock; installed only when no uv is found.
UV_VERSION ?= 0.13.9
ARGS ?=
MYPY_TARGETS := packages/payments-core/src packages/payments-devstack/src \
	packages/payments-aws-emulator/src services/api/src services/worker/src \
	services/payment-processor/src services/webhook-sender/src scripts

# kind + skaffold (k8s/, skaffold.yaml). KIND_NODE_IMAGE overrides the node image pinned in
# k8s/kind/cluster.yaml (for another kind release). KUBE_PROMETHEUS_STACK=0 leaves that stack out
# (about 1.5 GB less), for chart values without ServiceMonitors and PrometheusRules.
KIND_CLUSTER ?= payments
KIND_NODE_IMAGE ?=
KUBE_PROMETHEUS_STACK ?= 1
# docker or podman. Empty: `make images` and `make kube-play` take whichever works (podman for
# kube-play), and the kind targets docker (podman with KIND_EXPERIMENTAL_PROVIDER=podman).
CONTAINER_ENGINE ?=
export CONTAINER_ENGINE
KIND_ENGINE = $(or $(CONTAINER_ENGINE),docker)
CHART := charts/payments
# The pinned helm of scripts/k8s-tools.sh when it is there, else the one on PATH.
HELM = $(if $(wildcard .tools/bin/helm),$(CURDIR)/.tools/bin/helm,helm)
KUBERNETES_VERSION := 1.33.0
ADDONS_FLAGS = $(if $(filter 1 true yes,$(KUBE_PROMETHEUS_STACK)),--kube-prometheus-stack)

.PHONY: install up observe test lint format migrate bench fuzz chaos tools kind-up kind-down chart-lint chart-test \
	images kube-play kube-down lambda-package

install:
	@if ! command -v uv >/dev/null 2>&1; then \
		echo "uv not found: installing uv $(UV_VERSION) with pip"; \
		$(PYTHON) -m pip install --user --quiet "uv==$(UV_VERSION)" \
		|| $(PYTHON) -m pip install --user --quiet --break-system-packages "uv==$(UV_VERSION)" \
		|| $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"; \
	fi
	uv sync --frozen

up: install
	uv run python -m payments_devstack up

# Prometheus with the chart's alert rules (charts/payments/rules), scraping `make up`'s services
# (API :3001/metrics, worker :9101, processor :9102, webhook sender :9103); data in
# .data/prometheus, UI on http://127.0.0.1:9090. The binary: Debian's prometheus (make tools).
observe: install tools
	uv run python -m payments_devstack.observe

test: install tools
	uv run pytest $(ARGS)

# The OpenAPI fuzzing of `make test` with many more examples per operation (FUZZ_EXAMPLES), and
# another seed with FUZZ_SEED=<n>; several minutes.
FUZZ_EXAMPLES ?= 200
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) uv run pytest -q tests/api/test_fuzz_openapi.py $(ARGS)

# helm, kubectl and promtool for the chart tests (pinned; see the script). Not fatal here: without
# them those tests skip and say why; CI runs the script on its own and fails if it cannot.
tools:
	@bash scripts/k8s-tools.sh >/dev/null || echo "k8s tools unavailable: chart tests will skip"

lint: install
	uv run ruff format --check .
	uv run ruff check .
	uv run mypy $(MYPY_TARGETS)
	uv run cfn-lint deploy/aws/*.yaml

format: install
	uv run ruff format .
	uv run ruff check --fix .

migrate: install
	uv run python -m payments_core.migrations upgrade

# Throughput figures, each printed as a ratio of a baseline measured in the same run.
bench: install
	uv run python -m scripts.bench $(ARGS)

# 300 payments with random test cards while services are SIGKILLed and restarted, Temporal and
# PostgreSQL restarted and the webhook receiver flaps; then the invariants, from the database and
# the sandbox ledger. Non-zero exit on any violation. ARGS="--reduced" is the run `make test` does.
chaos: install
	uv run python -m payments_devstack.chaos $(ARGS)

# The four service images and the mended AWS emulator's (services/Dockerfile, the artifacts of
# skaffold.yaml and k8s/dev/skaffold.yaml), tagged IMAGE_TAG (dev). podman is installed from
# Debian when there is no engine and we are root. Where no registry answers, the bases are built
# locally (scripts/containers/bases.sh). BUILD_CA_BUNDLE=<file>: a CA the build trusts (a network
# that inspects TLS), mounted as a build secret, never in an image.
# Zips of the two consumers for AWS Lambda (python3.11, x86_64 and arm64) in build/lambda, built
# from uv.lock, with their sizes against Lambda's limits; ARCH=x86_64 builds one. Needs PyPI.
# Deploy them with deploy/aws/template.yaml (README "Run on AWS Lambda").
ARCH ?=
lambda-package: install
	uv run python -m payments_devstack.lambda_package $(if $(ARCH),--architecture $(ARCH))

images: install
	uv run python -m payments_devstack.containers.images

# The chart's pods on this host under `podman kube play`, beside `make up`'s infrastructure: the
# same summary and variables as `make up`; Ctrl-C stops everything. Builds missing images first.
kube-play: install tools
	uv run python -m payments_devstack.containers.kube_play up

# Stops and removes the pods a `make kube-play` left behind (one killed with SIGKILL, say).
kube-down: install
	uv run python -m payments_devstack.containers.kube_play down

# A local cluster like production: kind, KEDA and kube-prometheus-stack, then
# `skaffold dev` builds the images and deploys k8s/dev and the chart. Needs a container engine.
kind-up:
	@$(call require_kind,$@)
	@if kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
		echo "kind cluster $(KIND_CLUSTER) already exists"; \
		kind export kubeconfig --name $(KIND_CLUSTER); \
	else \
		kind create cluster --name $(KIND_CLUSTER) --config k8s/kind/cluster.yaml \
			$(if $(KIND_NODE_IMAGE),--image $(KIND_NODE_IMAGE)) --wait 120s; \
	fi
	@bash scripts/k8s-tools.sh >/dev/null || echo "pinned helm unavailable: using helm from PATH"
	KUBE_CONTEXT=kind-$(KIND_CLUSTER) bash scripts/cluster-addons.sh $(ADDONS_FLAGS)
	@echo "kind cluster $(KIND_CLUSTER) is ready (context kind-$(KIND_CLUSTER)). Next: skaffold dev"
	@echo "  API http://localhost:3001  Temporal UI http://localhost:8088  Grafana http://localhost:3000"

kind-down:
	@$(call require_kind,$@)
	kind delete cluster --name $(KIND_CLUSTER)

# helm lint --strict with the chart's defaults, then with each of its ci/ values files.
chart-lint: tools
	$(HELM) lint --strict --kube-version $(KUBERNETES_VERSION) $(CHART)
	for values in $(wildcard $(CHART)/ci/*.yaml); do \
		$(HELM) lint --strict --kube-version $(KUBERNETES_VERSION) $(CHART) --values "$$values"; \
	done

# The chart, Dockerfiles, dev infrastructure and skaffold tests (tests/k8s), no cluster needed.
chart-test: install tools
	uv run pytest -q tests/k8s

# One line and a non-zero exit, before anything else runs, when kind or the engine is missing.
define require_kind
missing=""; \
for cli in kind $(KIND_ENGINE); do command -v $$cli >/dev/null 2>&1 || missing="$$missing $$cli"; done; \
if [ -n "$$missing" ]; then \
	echo "$(1): not found:$$missing. kind runs Kubernetes in containers: install kind and Docker, or use \`make up\`, which needs neither." >&2; \
	exit 1; \
fi; \
$(KIND_ENGINE) info >/dev/null 2>&1 || { echo "$(1): $(KIND_ENGINE) is installed but its engine is not running: start it and retry." >&2; exit 1; }
endef
