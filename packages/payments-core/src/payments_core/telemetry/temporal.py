"""The Temporal SDK's own metrics (`temporal_*`), served on the process's single metrics port.

The SDK records into a `MetricBuffer` rather than binding a port of its own; this collector
drains the buffer into cumulative values whenever Prometheus scrapes, and a daemon thread drains
it every few seconds in between so a slow scraper never lets it fill. One per process:
`temporal_metrics()` creates it once and registers it in the default registry; connect clients
with its `runtime`.
"""

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from temporalio.common import MetricAttributes
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BufferedMetricUpdate,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)

from payments_core.telemetry.metrics import CALL_BUCKETS

BUFFER_SIZE = 100_000
DRAIN_INTERVAL_SECONDS = 5.0
# The SDK's latencies (schedule-to-start, execution, long polls up to a minute), in seconds.
BUCKETS = (*CALL_BUCKETS, 60.0, 120.0)

Labels = tuple[tuple[str, str], ...]


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        for index, bound in enumerate(BUCKETS):
            if value <= bound:
                self.buckets[index] += 1
        self.count += 1
        self.total += value


@dataclass
class _Series:
    kind: str  # counter, gauge, histogram
    description: str
    values: dict[Labels, float] = field(default_factory=dict)
    histograms: dict[Labels, _Histogram] = field(default_factory=dict)


class TemporalMetrics(Collector):
    def __init__(self, buffer_size: int = BUFFER_SIZE) -> None:
        self.buffer = MetricBuffer(buffer_size, MetricBufferDurationFormat.SECONDS)
        self.runtime = Runtime(telemetry=TelemetryConfig(metrics=self.buffer))
        self._series: dict[str, _Series] = {}
        self._lock = threading.Lock()

    def drain(self) -> None:
        with self._lock:
            for update in self.buffer.retrieve_updates():
                self._apply(update)

    def drain_in_background(self, interval: float = DRAIN_INTERVAL_SECONDS) -> None:
        def drain_forever() -> None:
            while True:
                time.sleep(interval)
                self.drain()

        threading.Thread(target=drain_forever, name="temporal-metrics", daemon=True).start()

    def describe(self) -> list[Metric]:
        return []  # names are only known once the SDK records them

    def collect(self) -> Iterator[Metric]:
        self.drain()
        with self._lock:
            for name, series in sorted(self._series.items()):
                yield _family(name, series)

    def _apply(self, update: BufferedMetricUpdate) -> None:
        metric = update.metric
        kind = {BUFFERED_METRIC_KIND_COUNTER: "counter", BUFFERED_METRIC_KIND_GAUGE: "gauge"}.get(
            metric.kind, "histogram"
        )
        series = self._series.setdefault(metric.name, _Series(kind, metric.description or ""))
        labels = _labels(update.attributes)
        if kind == "histogram":
            series.histograms.setdefault(labels, _Histogram()).observe(float(update.value))
        elif kind == "counter":
            series.values[labels] = series.values.get(labels, 0.0) + float(update.value)
        else:
            series.values[labels] = float(update.value)


def _labels(attributes: MetricAttributes) -> Labels:
    return tuple(sorted((str(key), str(value)) for key, value in attributes.items()))


def _family(name: str, series: _Series) -> Metric:
    family = Metric(name, series.description or name, series.kind)
    if series.kind == "counter":
        for labels, value in series.values.items():
            family.add_sample(f"{name}_total", dict(labels), value)
    elif series.kind == "gauge":
        for labels, value in series.values.items():
            family.add_sample(name, dict(labels), value)
    else:
        for labels, histogram in series.histograms.items():
            _add_histogram(family, name, dict(labels), histogram)
    return family


def _add_histogram(
    family: Metric, name: str, labels: Mapping[str, str], histogram: _Histogram
) -> None:
    for bound, count in zip(BUCKETS, histogram.buckets, strict=True):
        family.add_sample(f"{name}_bucket", {**labels, "le": str(bound)}, count)
    family.add_sample(f"{name}_bucket", {**labels, "le": "+Inf"}, histogram.count)
    family.add_sample(f"{name}_count", dict(labels), histogram.count)
    family.add_sample(f"{name}_sum", dict(labels), histogram.total)


_installed: TemporalMetrics | None = None


def temporal_metrics() -> TemporalMetrics:
    """This process's bridge, created and registered on first use."""
    global _installed
    if _installed is None:
        _installed = TemporalMetrics()
        REGISTRY.register(_installed)
        _installed.drain_in_background()
    return _installed
