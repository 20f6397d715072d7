"""With an OTLP endpoint configured, the worker exports one span per matched
trigger, a child of the trace in the event's `otel-context` header."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from compose.localstack import free_port
from streams import codec
from tests.e2e.conftest import Stack
from tests.e2e.helpers import create_trigger, poll

pytestmark = pytest.mark.e2e

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


class _Collector(ThreadingHTTPServer):
    """The smallest OTLP/HTTP trace receiver: keeps every span it is sent."""

    def __init__(self, port: int) -> None:
        self.spans: list[dict[str, object]] = []
        super().__init__(("127.0.0.1", port), _Receive)


class _Receive(BaseHTTPRequestHandler):
    server: _Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: a.value for a in span.attributes}
                    self.server.spans.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "trigger": attributes["orchestration.trigger.id"].string_value,
                            "topic": attributes["messaging.destination.name"].string_value,
                        }
                    )
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[_Collector]:
    server = _Collector(free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def _publish(stack: Stack, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(stack.kafka.topics[0], value, headers=headers)
    finally:
        await producer.stop()


def test_a_matched_trigger_is_a_span_in_the_events_trace(
    run_stack: Callable[..., Stack], collector: _Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_port}")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    stack = run_stack()
    with stack.client() as client:
        workflow = client.post("/v2/workflows", json={"name": "w", "stages": []}).json()["data"]
        trigger_id = create_trigger(client, workflow["id"], filter='event.ledger == "traced"')
        event = codec.dumps(
            {"type": "COMMITTED_TRANSACTIONS", "payload": {"ledger": "traced", "transactions": []}}
        )
        context = codec.dumps({"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01"})
        # The trigger may still be on its way to the worker: publish until matched.
        for attempt in range(10):
            asyncio.run(
                _publish(
                    stack,
                    event.replace(b"[]", f"[{attempt}]".encode()),
                    [("otel-context", context)],
                )
            )
            spans = poll(lambda: list(collector.spans), bool, timeout=3)
            if spans:
                break
    assert spans, "no span exported"
    span = spans[0]
    assert span["name"] == "trigger.match"
    assert span["trigger"] == trigger_id
    assert span["topic"] == stack.kafka.topics[0]
    assert span["trace_id"] == TRACE_ID
    assert span["parent"] == "b7ad6b7169203331"
