"""Events in through a real Kafka producer, answers out through the HTTP API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from tests.e2e.conftest import Stack
from tests.e2e.helpers import poll, publish

pytestmark = pytest.mark.e2e


def committed_transaction(tx_id: int, *, ledger: str = "main", key: str = "") -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "date": "2025-03-04T09:00:01.25Z",
        "app": "ledger",
        "version": "v2",
        "type": "COMMITTED_TRANSACTIONS",
        "payload": {
            "ledger": ledger,
            "transactions": [
                {
                    "id": tx_id,
                    "postings": [
                        {
                            "source": "world",
                            "destination": "users:042",
                            "amount": 1500,
                            "asset": "EUR/2",
                        }
                    ],
                    "metadata": {"order": "A-17"},
                }
            ],
        },
    }


def create_definitions(stack: Stack) -> tuple[str, str]:
    with stack.client() as http:
        workflow = http.post(
            "/v2/workflows", json={"name": "demo", "stages": [{"wait_event": {"event": "go"}}]}
        )
        assert workflow.status_code == 201, workflow.text
        workflow_id = workflow.json()["data"]["id"]
        trigger = http.post(
            "/v2/triggers",
            json={
                "name": "main ledger orders",
                "event": "COMMITTED_TRANSACTIONS",
                "version": "v2",
                "workflowID": workflow_id,
                "filter": 'event.ledger == "main"',
                "vars": {"txID": "event.transactions[0].id"},
            },
        )
        assert trigger.status_code == 201, trigger.text
        return workflow_id, trigger.json()["data"]["id"]


async def test_an_event_becomes_an_occurrence_with_an_instance(
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack()
    workflow_id, trigger_id = create_definitions(stack)
    # Definitions reach the worker through the outbox and the definitions
    # topic; an event published right away may precede them, so publish a
    # few distinct events until the first occurrence shows.
    matched = committed_transaction(57)
    await publish(
        stack,
        b"this is not json",
        json.dumps(committed_transaction(1, ledger="other")).encode(),
    )
    with stack.client() as http:

        def occurrences() -> list[dict[str, Any]]:
            response = http.get(f"/v2/triggers/{trigger_id}/occurrences")
            assert response.status_code == 200
            data: list[dict[str, Any]] = response.json()["cursor"]["data"]
            return data

        deadline = time.monotonic() + 60
        found: list[dict[str, Any]] = []
        while not found and time.monotonic() < deadline:
            await publish(stack, json.dumps(matched).encode())
            found = poll(occurrences, bool, timeout=3)
        assert len(found) == 1, "the same event published again must not fire twice"
        [occurrence] = found
        assert occurrence["triggerID"] == trigger_id
        assert occurrence["event"] == matched
        assert occurrence["date"].endswith("Z")
        assert "error" not in occurrence
        instance_id = occurrence["workflowInstanceID"]
        assert occurrence["workflowInstance"]["id"] == instance_id

        instance = http.get(f"/v2/instances/{instance_id}")
        assert instance.status_code == 200
        body = instance.json()["data"]
        assert body["id"] == instance_id
        assert body["workflowID"] == workflow_id
        assert body["workflow"]["id"] == workflow_id
        assert body["terminated"] is False

        # The v1 API reads the same data.
        v1 = http.get(f"/triggers/{trigger_id}/occurrences").json()["data"]
        assert [o["id"] for o in v1] == [occurrence["id"]]

    # The malformed record went to the dead-letter topic, with its reason.
    consumer = AIOKafkaConsumer(
        stack.topics.dead_letter,
        bootstrap_servers=stack.kafka.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=5000)
        records = [r for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    assert [r.value for r in records] == [b"this is not json"]
    assert dict(records[0].headers)["reason"].startswith(b"not JSON")


async def test_a_deleted_trigger_stops_firing(run_stack: Callable[..., Stack]) -> None:
    stack = run_stack()
    _, trigger_id = create_definitions(stack)
    with stack.client() as http:
        assert http.delete(f"/v2/triggers/{trigger_id}").status_code == 204
        assert http.get(f"/v2/triggers/{trigger_id}").status_code == 404
        # A control trigger created after the delete: once it fires, the
        # worker has read the definitions topic past the tombstone (definitions
        # reach workers within a poll, not before events published at once).
        _, control = create_definitions(stack)

        async def control_fires(prefix: str) -> None:
            for attempt in range(10):
                key = f"{prefix}-{attempt}"
                await publish(
                    stack, json.dumps(committed_transaction(100 + attempt, key=key)).encode()
                )
                seen = poll(
                    lambda: http.get(f"/v2/triggers/{control}/occurrences").json()["cursor"][
                        "data"
                    ],
                    lambda rows, key=key: any(r["event"]["idempotency_key"] == key for r in rows),
                    timeout=5,
                )
                if any(r["event"]["idempotency_key"] == key for r in seen):
                    return
            raise AssertionError("the control trigger never fired")

        await control_fires("before")
        # Now the deleted trigger is gone from the worker: this event must not
        # reach it (the control events after it give the worker time to read it).
        await publish(stack, json.dumps(committed_transaction(99, key="after-delete")).encode())
        await control_fires("after")
        gone = http.get(f"/v2/triggers/{trigger_id}/occurrences").json()["cursor"]["data"]
        assert gone == []
