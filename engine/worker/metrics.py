"""The match and project loops' Prometheus metrics.

Every label set is bounded: topics are the configured inbound topics,
outcomes and dead-letter kinds are fixed words, and per-trigger counters give
their own label to the first `TRIGGER_LABELS` triggers that fail and count
every later one under `other` (a stack with 10,000 failing triggers must not
grow the scrape by 10,000 series). Consumer lag per partition is
`orchestration_consumer_lag_records` (streams.batches), for both loops.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from prometheus_client import Counter, Histogram

TRIGGER_LABELS = 200
OTHER = "other"

EVENTS = Counter(
    "orchestration_inbound_events_total",
    "Inbound events by topic and outcome (matched, unmatched, dead_letter)",
    ["topic", "outcome"],
)
OCCURRENCES = Counter("orchestration_occurrences_total", "Occurrences produced")
DEAD_LETTERS = Counter(
    "orchestration_dead_letters_total",
    "Events dead-lettered, by why (oversized, empty, not_json, not_envelope)",
    ["reason"],
)
FILTER_ERRORS = Counter(
    "orchestration_trigger_filter_errors_total",
    f"Filter evaluations that raised, per trigger (the first {TRIGGER_LABELS}, then 'other')",
    ["trigger"],
)
VARS_ERRORS = Counter(
    "orchestration_trigger_vars_errors_total",
    f"Occurrences recorded with a vars error, per trigger (the first {TRIGGER_LABELS}, "
    "then 'other')",
    ["trigger"],
)
# From the event's Kafka timestamp (its producer's clock, or the broker's with
# LogAppendTime) to its occurrence acknowledged by the broker.
MATCH_LATENCY = Histogram(
    "orchestration_match_latency_seconds",
    "Seconds from an inbound event's Kafka timestamp to its occurrences produced",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
# From a history record's timestamp to its row committed in Postgres: with
# MATCH_LATENCY, the time from an event to its occurrence visible in the API.
PROJECTION_LATENCY = Histogram(
    "orchestration_projection_latency_seconds",
    "Seconds from a history record's Kafka timestamp to its rows committed in Postgres",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
PROJECT_BATCH_SIZE = Histogram(
    "orchestration_projector_batch_records",
    "History records per projector batch (one Postgres transaction each)",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000),
)
PROJECTED = Counter("orchestration_history_records_projected_total", "History records projected")
UNPROJECTED = Counter(
    "orchestration_history_records_unprojected_total",
    "History records not projected (unreadable or of an unknown type)",
)


class BoundedLabels:
    """The first `limit` distinct values keep their name, later ones are `other`."""

    def __init__(self, limit: int = TRIGGER_LABELS) -> None:
        self._limit = limit
        self._known: set[str] = set()
        # The match loop may run in a thread (link() batches).
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        with self._lock:
            if value in self._known:
                return value
            if len(self._known) < self._limit:
                self._known.add(value)
                return value
        return OTHER


_TRIGGERS = BoundedLabels()


def count_trigger_errors(counter: Counter, trigger_ids: Iterable[str]) -> None:
    for trigger_id in trigger_ids:
        counter.labels(_TRIGGERS(trigger_id)).inc()
