"""Lifecycle events on the public `orchestration` topic (BEHAVIOUR 10), read with a
plain Kafka consumer from real processes (`orchestration api`, `worker`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import codec
from tests.e2e.conftest import Stack
from tests.e2e.helpers import create_trigger, occurrences, poll, publish
from tests.e2e.helpers import events_of as _of
from tests.e2e.helpers import history as _history
from tests.e2e.helpers import instance as _instance
from tests.e2e.helpers import read_events as _read_events
from tests.e2e.helpers import start_instance as _start

pytestmark = pytest.mark.e2e

SEND_WITHOUT_AMOUNT = {
    "send": {
        "source": {"account": {"id": "world", "ledger": "main"}},
        "destination": {"account": {"id": "users:1", "ledger": "main"}},
    }
}
EVENT = codec.dumps(
    {
        "idempotency_key": "evt-1",
        "date": "2025-03-04T09:00:01Z",
        "app": "ledger",
        "version": "v2",
        "type": "COMMITTED_TRANSACTIONS",
        "payload": {"ledger": "main", "transactions": [{"id": 57}]},
    }
)
# RFC 3339 in UTC, up to nanoseconds, trailing zeros dropped (10.1's example).
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$")


def _workflow(client: httpx.Client, stages: list[dict[str, Any]]) -> str:
    created = client.post("/v2/workflows", json={"name": "events", "stages": stages})
    assert created.status_code == 201, created.text
    workflow_id: str = created.json()["data"]["id"]
    return workflow_id


async def test_triggered_instances_and_a_failed_occurrence_publish_their_lifecycle(
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack()
    with stack.client() as client:
        ok = _workflow(client, [{"noop": {}}, {"noop": {}}])
        bad = _workflow(client, [{"noop": {}}, SEND_WITHOUT_AMOUNT])
        ok_trigger = create_trigger(client, ok)
        bad_trigger = create_trigger(client, bad)
        # Created last: once it fires, the worker holds all three triggers.
        failing = create_trigger(client, ok, vars={"x": "event.nope.deeper"})
        for _ in range(10):
            await publish(stack, EVENT)
            if poll(lambda: occurrences(client, failing), bool, timeout=5):
                break
        [ok_occ] = poll(lambda: occurrences(client, ok_trigger), bool, timeout=10)
        [bad_occ] = poll(lambda: occurrences(client, bad_trigger), bool, timeout=10)
        [failed_occ] = occurrences(client, failing)
    ok_instance, bad_instance = ok_occ["workflowInstanceID"], bad_occ["workflowInstanceID"]

    def finished(seen: list[dict[str, Any]]) -> bool:
        types = {(e["key"], e["type"]) for e in seen}
        return {
            (ok_instance, "SUCCEEDED_WORKFLOW"),
            (bad_instance, "FAILED_WORKFLOW"),
            (failed_occ["id"], "FAILED_TRIGGER"),
        } <= types

    seen = await _read_events(stack, finished)

    ok_base = {"id": ok, "instanceID": ok_instance}
    ok_events = _of(seen, ok_instance)
    assert [e for e in ok_events if e[0] != "SUCCEEDED_TRIGGER"] == [
        ("STARTED_WORKFLOW", ok_base),
        ("STARTED_WORKFLOW_STAGE", ok_base | {"number": 0}),
        ("SUCCEEDED_WORKFLOW_STAGE", ok_base | {"number": 0}),
        ("STARTED_WORKFLOW_STAGE", ok_base | {"number": 1}),
        ("SUCCEEDED_WORKFLOW_STAGE", ok_base | {"number": 1}),
        ("SUCCEEDED_WORKFLOW", ok_base),
    ]
    succeeded = (
        "SUCCEEDED_TRIGGER",
        {"id": ok_occ["id"], "triggerID": ok_trigger, "workflowInstanceID": ok_instance},
    )
    # After STARTED_WORKFLOW (10.2), once: a republished event's start is rejected.
    assert [i for i, e in enumerate(ok_events) if e[0] == "SUCCEEDED_TRIGGER"] == [1]
    assert ok_events[1] == succeeded

    bad_base = {"id": bad, "instanceID": bad_instance}
    error = {"error": "amount must be specified"}
    assert [e for e in _of(seen, bad_instance) if e[0] != "SUCCEEDED_TRIGGER"] == [
        ("STARTED_WORKFLOW", bad_base),
        ("STARTED_WORKFLOW_STAGE", bad_base | {"number": 0}),
        ("SUCCEEDED_WORKFLOW_STAGE", bad_base | {"number": 0}),
        ("STARTED_WORKFLOW_STAGE", bad_base | {"number": 1}),
        ("FAILED_WORKFLOW_STAGE", bad_base | {"number": 1} | error),
        ("FAILED_WORKFLOW", bad_base | error),
    ]

    # The occurrence whose vars failed starts nothing; at least once (an event
    # republished after it fired records it again).
    failed_events = _of(seen, failed_occ["id"])
    assert failed_events
    assert set(map(str, failed_events)) == {
        str(
            (
                "FAILED_TRIGGER",
                {"id": failed_occ["id"], "triggerID": failing, "error": failed_occ["error"]},
            )
        )
    }
    assert "workflowInstanceID" not in failed_occ

    for envelope in seen:
        assert envelope["idempotency_key"] == ""
        assert (envelope["app"], envelope["version"]) == ("orchestration", "v2")
        assert DATE.match(envelope["date"]), envelope["date"]
        assert list(envelope) == [
            "key",
            "idempotency_key",
            "date",
            "app",
            "version",
            "type",
            "payload",
        ]


async def test_an_aborted_instance_fails_its_stage_and_itself_with_canceled(
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack()
    with stack.client() as client:
        instance_id = _start(client, [{"wait_event": {"event": "go"}}])
        workflow_id = _instance(client, instance_id)["workflowID"]
        poll(lambda: _history(client, instance_id), lambda rows: len(rows) == 1, timeout=60)
        assert client.put(f"/v2/instances/{instance_id}/abort").status_code == 204
    seen = await _read_events(stack, lambda seen: any(e["type"] == "FAILED_WORKFLOW" for e in seen))
    base = {"id": workflow_id, "instanceID": instance_id}
    canceled = {"error": "canceled"}
    # Started by the API, not a trigger: no trigger event.
    assert _of(seen, instance_id) == [
        ("STARTED_WORKFLOW", base),
        ("STARTED_WORKFLOW_STAGE", base | {"number": 0}),
        ("FAILED_WORKFLOW_STAGE", base | {"number": 0} | canceled),
        ("FAILED_WORKFLOW", base | canceled),
    ]
    port = stack.env["ORCHESTRATION_WORKER_METRICS_PORT"]
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    assert 'orchestration_events_published_total{type="FAILED_WORKFLOW"} 1.0' in metrics


async def test_publication_can_be_turned_off(run_stack: Callable[..., Stack]) -> None:
    stack = run_stack(publish_events="false")
    with stack.client() as client:
        instance_id = _start(client, [{"noop": {}}])
        done = poll(lambda: _instance(client, instance_id), lambda i: i["terminated"], timeout=60)
    assert done["terminated"]
    # Events would be acknowledged with the history the API just showed.
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka.kafka_bootstrap_servers)
    await consumer.start()
    try:
        partitions = [TopicPartition(stack.topics.events, p) for p in range(stack.kafka.partitions)]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    assert sum(ends.values()) == 0
