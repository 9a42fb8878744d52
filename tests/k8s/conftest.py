"""Fixtures of the chart tests: one render per values file, shared by every test of the session."""

import pytest

from tests.k8s.chart import VALUES_FILES, Document, render


@pytest.fixture(params=VALUES_FILES, ids=lambda name: name or "defaults")
def values_file(request: pytest.FixtureRequest) -> str | None:
    """The chart's defaults, then each ci/*.yaml."""
    value: str | None = request.param
    return value


@pytest.fixture
def documents(values_file: str | None) -> tuple[Document, ...]:
    return render(values_file)
