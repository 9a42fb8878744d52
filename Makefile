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
MYPY_TARGETS := packages/payments-core/src services/api/src services/worker/src \
	services/payment-processor/src services/webhook-sender/src scripts

.PHONY: install up test lint format migrate bench tools

install:
	@if ! command -v uv >/dev/null 2>&1; then \
		echo "uv not found: installing uv $(UV_VERSION) with pip"; \
		$(PYTHON) -m pip install --user --quiet "uv==$(UV_VERSION)" \
		|| $(PYTHON) -m pip install --user --quiet --break-system-packages "uv==$(UV_VERSION)" \
		|| $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"; \
	fi
	uv sync --frozen

up: install
	uv run python -m payments_core.devstack up

test: install tools
	uv run pytest $(ARGS)

# helm, kubectl and promtool for the chart tests (pinned; see the script). Not fatal here: without
# them those tests skip and say why; CI runs the script on its own and fails if it cannot.
tools:
	@bash scripts/k8s-tools.sh >/dev/null || echo "k8s tools unavailable: chart tests will skip"

lint: install
	uv run ruff format --check .
	uv run ruff check .
	uv run mypy $(MYPY_TARGETS)

format: install
	uv run ruff format .
	uv run ruff check --fix .

migrate: install
	uv run python -m payments_core.migrations upgrade

# Throughput figures, each printed as a ratio of a baseline measured in the same run.
bench: install
	uv run python scripts/bench_webhooks.py $(ARGS)
