"""`orchestration worker` serves /healthz, /readyz and /metrics on its metrics port."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams import codec
from tests.e2e.conftest import Stack
from tests.e2e.helpers import create_trigger, poll, publish

pytestmark = pytest.mark.e2e


def _event(ledger: str) -> bytes:
    return codec.dumps(
        {"type": "COMMITTED_TRANSACTIONS", "payload": {"ledger": ledger, "transactions": []}}
    )


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_running_worker_is_healthy_ready_and_measures_its_stream(
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack()
    base = f"http://127.0.0.1:{stack.env['ORCHESTRATION_WORKER_METRICS_PORT']}"
    topic = stack.kafka.topics[0]
    with stack.client() as client:
        workflow = client.post("/v2/workflows", json={"name": "w", "stages": []}).json()["data"]
        ok, bad_filter, bad_vars = (
            create_trigger(client, workflow["id"], **body)
            for body in (
                {"filter": 'event.ledger == "ok"'},
                {"filter": 'event.ledger == "bad" && event.nope.deeper == 1'},
                {"filter": 'event.ledger == "vars"', "vars": {"x": "event.nope.deeper"}},
            )
        )
    with httpx.Client(base_url=base, timeout=5) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert poll(lambda: http.get("/readyz").json(), lambda r: r == {"status": "ready"}) == {
            "status": "ready"
        }
        asyncio.run(publish(stack, b"not json", _event("bad"), _event("vars"), _event("ok")))

        def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            return _samples(http.get("/metrics").text)

        def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
            return (name, tuple(sorted(labels.items())))

        matched = key("orchestration_inbound_events_total", topic=topic, outcome="matched")
        metrics = poll(scraped, lambda m: m.get(matched, 0) >= 2)
    assert metrics[matched] == 2  # "ok" and "vars" (recorded with its error)
    assert metrics[key("orchestration_inbound_events_total", topic=topic, outcome="unmatched")] == 1
    assert (
        metrics[key("orchestration_inbound_events_total", topic=topic, outcome="dead_letter")] == 1
    )
    assert metrics[key("orchestration_dead_letters_total", reason="not_json")] == 1
    assert metrics[key("orchestration_trigger_filter_errors_total", trigger=bad_filter)] == 1
    assert metrics[key("orchestration_trigger_vars_errors_total", trigger=bad_vars)] == 1
    assert key("orchestration_trigger_filter_errors_total", trigger=ok) not in metrics
    assert metrics[key("orchestration_match_latency_seconds_count")] == 2
    assert metrics[key("orchestration_projector_batch_records_count")] >= 1
    assert metrics[key("orchestration_projection_latency_seconds_count")] >= 2
