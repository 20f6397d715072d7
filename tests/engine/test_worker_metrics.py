"""The worker's metric labels stay bounded whatever the triggers do."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from engine.worker.metrics import OTHER, BoundedLabels
from engine.worker.process import observe_since

pytestmark = pytest.mark.unit


def test_the_first_values_keep_their_label_and_later_ones_are_other() -> None:
    label = BoundedLabels(limit=2)
    assert [label(v) for v in ("a", "b", "c", "a", "d", "b")] == ["a", "b", OTHER, "a", OTHER, "b"]


def test_ten_thousand_failing_triggers_make_a_bounded_number_of_series() -> None:
    registry = CollectorRegistry()
    errors = Counter("errors", "per trigger", ["trigger"], registry=registry)
    label = BoundedLabels(limit=200)
    for i in range(10_000):
        errors.labels(label(f"trigger-{i}")).inc()
    [metric] = registry.collect()
    series = {s.labels["trigger"]: s.value for s in metric.samples if s.name == "errors_total"}
    assert len(series) == 201
    assert series[OTHER] == 9_800
    assert sum(series.values()) == 10_000


def test_latency_counts_a_timestamp_from_a_clock_ahead_as_zero() -> None:
    registry = CollectorRegistry()
    latency = Histogram("latency", "s", buckets=(0.5, 60, 7200), registry=registry)
    now_ms = int(time.time() * 1000)
    observe_since(latency, [now_ms - 3_600_000, now_ms + 60_000])
    samples = {
        (s.name, s.labels.get("le")): s.value for s in next(iter(registry.collect())).samples
    }
    assert samples[("latency_bucket", "0.5")] == 1  # the one from the future
    assert samples[("latency_bucket", "60.0")] == 1
    assert samples[("latency_bucket", "7200.0")] == 2
    assert 3600 <= samples[("latency_sum", None)] < 3700
