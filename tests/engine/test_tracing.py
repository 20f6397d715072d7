"""Traces of matched triggers: one span per occurrence, a child of the event's trace."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from engine.matching import MatchResult
from engine.worker.tracing import MatchTracer, parent_context
from streams import codec

pytestmark = pytest.mark.unit

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@dataclass
class FakeRecord:
    topic: str = "ledger"
    partition: int = 3
    offset: int = 41
    timestamp: int = 1_700_000_000_000
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def _trace(
    records: list[FakeRecord], results: list[MatchResult], end_ns: int
) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    tracer = MatchTracer(exporter, service_name="test")
    tracer.record(records, results, end_ns)
    tracer.shutdown()
    return exporter


def test_each_occurrence_is_a_span_from_the_event_to_its_ack_under_the_events_trace() -> None:
    context = codec.dumps({"traceparent": PARENT})
    record = FakeRecord(headers=[("otel-context", context)])
    matched = MatchResult(occurrences=[("t1", "o1"), ("t2", "o2")])
    end_ns = record.timestamp * 1_000_000 + 40_000_000
    spans = _trace([record, FakeRecord(offset=42)], [matched, MatchResult()], end_ns)
    found = spans.get_finished_spans()
    assert [s.attributes["orchestration.trigger.id"] for s in found] == ["t1", "t2"]  # type: ignore[index]
    for span, occurrence in zip(found, ("o1", "o2"), strict=True):
        assert span.name == "trigger.match"
        assert span.kind is SpanKind.CONSUMER
        assert span.attributes is not None
        assert span.attributes["orchestration.occurrence.id"] == occurrence
        assert span.attributes["messaging.destination.name"] == "ledger"
        assert span.attributes["messaging.destination.partition.id"] == "3"
        assert span.attributes["messaging.kafka.offset"] == 41
        assert span.end_time is not None
        assert span.start_time is not None
        assert span.end_time - span.start_time == 40_000_000
        assert span.parent is not None
        assert format(span.context.trace_id, "032x") == TRACE_ID
        assert span.resource.attributes["service.name"] == "test"


@pytest.mark.parametrize(
    "header",
    [b"not json", b"[1]", codec.dumps({"traceparent": "garbage"}), b"{" * 5000, b""],
)
def test_an_unusable_trace_context_gives_a_root_span(header: bytes) -> None:
    record = FakeRecord(headers=[("otel-context", header)])
    spans = _trace([record], [MatchResult(occurrences=[("t1", "o1")])], 10**18)
    [span] = spans.get_finished_spans()
    assert span.parent is None


def test_a_clock_behind_the_producer_gives_an_empty_span_not_a_negative_one() -> None:
    record = FakeRecord(timestamp=2_000_000_000_000)
    spans = _trace([record], [MatchResult(occurrences=[("t1", "o1")])], 10**18)
    [span] = spans.get_finished_spans()
    assert span.start_time == span.end_time == 10**18


def test_tracing_is_off_without_an_endpoint() -> None:
    assert MatchTracer.from_environment({}) is None
    assert MatchTracer.from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}) is None
    tracer = MatchTracer.from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"})
    assert tracer is not None
    tracer.shutdown()


def test_parent_context_reads_the_w3c_headers() -> None:
    assert parent_context({}) is None
    assert parent_context({"otel-context": codec.dumps({"traceparent": PARENT})}) is not None
