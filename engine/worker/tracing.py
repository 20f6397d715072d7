"""Optional OpenTelemetry traces of the match loop (upstream exports OTLP too).

Off unless an OTLP endpoint is configured with the standard variables,
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL, `.../v1/traces`) or
`OTEL_EXPORTER_OTLP_ENDPOINT` (the collector's base URL), spoken as
http/protobuf; `OTEL_SERVICE_NAME` names the service (default
`orchestration-worker`) and the SDK's other `OTEL_*` variables apply.

Each occurrence is one `trigger.match` span, from the event's Kafka
timestamp to its occurrence acknowledged by the broker, with the event's
coordinates and the trigger and occurrence ids. A Formance service puts its
trace context in the `otel-context` header (a JSON object of W3C propagation
headers, BEHAVIOUR 11.2): the span is then a child of the trace that
produced the event, so a ledger transaction's trace shows the triggers it
fired. Spans are exported in batches by the SDK's background thread, never
on the event loop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from engine.matching import MatchResult, decode_headers
from streams import codec

log = structlog.get_logger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
CONTEXT_HEADER = "otel-context"
# A trace context is a few hundred bytes; a bigger header is not one.
_MAX_CONTEXT_BYTES = 4096
_PROPAGATOR = TraceContextTextMapPropagator()


def parent_context(headers: Mapping[str, bytes]) -> Context | None:
    """The producer's trace context from the `otel-context` header, if it is usable."""
    raw = headers.get(CONTEXT_HEADER)
    if not raw or len(raw) > _MAX_CONTEXT_BYTES:
        return None
    try:
        carrier = codec.loads(raw)
    except ValueError:
        return None
    if not isinstance(carrier, dict):
        return None
    return _PROPAGATOR.extract({str(k): str(v) for k, v in carrier.items() if isinstance(v, str)})


class MatchTracer:
    def __init__(self, exporter: SpanExporter, service_name: str | None = None) -> None:
        name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "orchestration-worker"
        self._provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("orchestration.match")

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> MatchTracer | None:
        endpoint = next((env[v] for v in ENDPOINT_VARIABLES if env.get(v)), None)
        if endpoint is None:
            return None
        # Imported only when tracing is on: it pulls in requests and protobuf
        # (~60 ms of every worker start otherwise). It reads the variables
        # itself (base URL + /v1/traces, headers, ...).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        log.info("tracing.enabled", endpoint=endpoint)
        return cls(OTLPSpanExporter())

    def record(self, records: Sequence[Any], results: Sequence[MatchResult], end_ns: int) -> None:
        """One span per occurrence of `results` (one result per consumed record)."""
        for record, result in zip(records, results, strict=True):
            if not result.occurrences:
                continue
            parent = parent_context(decode_headers(record.headers))
            start_ns = min(record.timestamp * 1_000_000, end_ns)
            for trigger_id, occurrence_id in result.occurrences:
                span = self._tracer.start_span(
                    "trigger.match",
                    context=parent,
                    kind=SpanKind.CONSUMER,
                    start_time=start_ns,
                    attributes={
                        "messaging.system": "kafka",
                        "messaging.destination.name": record.topic,
                        "messaging.destination.partition.id": str(record.partition),
                        "messaging.kafka.offset": record.offset,
                        "orchestration.trigger.id": trigger_id,
                        "orchestration.occurrence.id": occurrence_id,
                    },
                )
                span.end(end_time=end_ns)

    def shutdown(self) -> None:
        """Export what is buffered (bounded by the SDK's export timeout)."""
        self._provider.shutdown()
