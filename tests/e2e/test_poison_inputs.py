"""No single request, event or trigger stops the line (issue: bounded cost).

Real `orchestration api` and `worker` processes, the session's Kafka and
PostgreSQL. Each hostile input is sent to the running stack, then a canary:
the canary must still be matched, and what was accepted before is still there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from api.store._common import MAX_OUTBOX_RECORD_BYTES
from streams import codec
from tests.e2e.conftest import Stack
from tests.e2e.helpers import create_trigger, occurrences, poll, publish

pytestmark = pytest.mark.e2e


def _event(ledger: str, key: str, **payload: Any) -> bytes:
    return codec.dumps(
        {
            "idempotency_key": key,
            "date": "2025-03-04T09:00:01Z",
            "app": "ledger",
            "version": "v2",
            "type": "COMMITTED_TRANSACTIONS",
            "payload": {"ledger": ledger, "transactions": [{"id": 1}], **payload},
        }
    )


async def _canary(stack: Stack, client: httpx.Client, trigger_id: str, key: str) -> None:
    """Publish a canary until it is matched (the trigger may still be on its
    way to the worker the first time); fail if it never is."""
    for _ in range(20):
        await publish(stack, _event("canary", key))
        rows = poll(
            lambda: occurrences(client, trigger_id),
            lambda found: any(r["event"]["idempotency_key"] == key for r in found),
            timeout=3,
        )
        if any(r["event"]["idempotency_key"] == key for r in rows):
            return
    raise AssertionError(f"canary {key} never matched")


async def _dead_letters(stack: Stack, wanted: int) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        stack.topics.dead_letter,
        bootstrap_servers=stack.kafka.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[tuple[bytes, dict[str, bytes]]] = []
    try:
        deadline = time.monotonic() + 30
        while len(found) < wanted and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [(r.value or b"", dict(r.headers)) for r in records]
    finally:
        await consumer.stop()
    return found


async def test_hostile_inputs_each_leave_the_line_moving(run_stack: Callable[..., Stack]) -> None:
    stack = run_stack()
    with stack.client() as client:
        workflow = client.post("/v2/workflows", json={"name": "w", "stages": []})
        workflow_id = workflow.json()["data"]["id"]
        canary = create_trigger(client, workflow_id, filter='event.ledger == "canary"')
        # Filters that would stall an engine without budgets or RE2, on every event.
        backtracking = create_trigger(client, workflow_id, filter='event.s matches "^(a+)+$"')
        expensive = create_trigger(
            client, workflow_id, filter="any(1..5000, {any(1..5000, {# == -1})})"
        )
        await _canary(stack, client, canary, "canary-0")
        accepted = occurrences(client, canary)

        # 1. What cannot travel through the outbox is refused, and nothing is written.
        too_big = "n" * (MAX_OUTBOX_RECORD_BYTES + 100)
        huge = client.post("/v2/workflows", json={"name": too_big, "stages": []})
        assert huge.status_code in (400, 413), huge.text[:300]
        assert huge.json()["errorCode"] == "VALIDATION"
        # 8. YAML that expands to megabytes, nests 1,000 deep, or holds a 5,000-digit int.
        refs = ", ".join(["*s"] * 100)
        for document in (
            f"s: &s {'x' * 30_000}\nk: [{refs}]\nstages: []\n".encode(),
            b"stages: " + b"[" * 1000 + b"]" * 1000 + b"\n",
            b"name: x\nstages: []\nbig: " + b"9" * 5000 + b"\n",
        ):
            answer = client.post(
                "/v2/workflows", content=document, headers={"content-type": "text/vnd.yaml"}
            )
            assert answer.status_code == 400, answer.text
            assert answer.json()["errorCode"] == "VALIDATION"
        # 4. A deeply nested body to the trigger test endpoint answers at once.
        tested = client.post(
            f"/v2/triggers/{canary}/test",
            content=b'{"event": ' + b"[" * 2000 + b"]" * 2000 + b"}",
            headers={"content-type": "application/json"},
        )
        assert tested.status_code == 400, tested.text
        await _canary(stack, client, canary, "canary-1")

        # 3. An event nested 1,000 deep is dead-lettered with its reason.
        deep = (
            b'{"type": "COMMITTED_TRANSACTIONS", "payload": {"ledger": "poison", "x": '
            + b"[" * 1000
            + b"]" * 1000
            + b"}}"
        )
        # 5, 6. Events that exercise the backtracking regex and the expensive filter.
        await publish(stack, deep, _event("poison", "regex", s="a" * 40 + "b"))
        await _canary(stack, client, canary, "canary-2")
        letters = await _dead_letters(stack, 1)

    assert any(b"nested deeper than 128" in headers.get("reason", b"") for _, headers in letters), (
        letters
    )
    # Neither hostile filter matched anything (a budget overrun is a filter error).
    assert _occurrences_of(stack, backtracking) == []
    assert _occurrences_of(stack, expensive) == []
    # Nothing accepted before was lost.
    with stack.client() as client:
        now = {r["id"] for r in occurrences(client, canary)}
    assert {r["id"] for r in accepted} <= now
    assert len(now) == 3


def _occurrences_of(stack: Stack, trigger_id: str) -> list[dict[str, Any]]:
    with stack.client() as client:
        return occurrences(client, trigger_id)
