"""Instances started by events, and instances that outlive a SIGKILLed worker.

Real processes (`orchestration api`, `worker`, `sandbox`), the session's
Kafka broker and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from streams import codec
from tests.e2e.conftest import Stack
from tests.e2e.helpers import history as _history
from tests.e2e.helpers import instance as _instance
from tests.e2e.helpers import poll, publish
from tests.e2e.helpers import start_instance as _start
from tests.sandbox.conftest import start_sandbox

__all__ = ["start_sandbox"]  # the sandbox process fixture, shared

pytestmark = pytest.mark.e2e

AMOUNT = 2**70 + 3  # a float would drop the 3


def _send(amount: Any, destination: str = "users:1") -> dict[str, Any]:
    return {
        "send": {
            "source": {"account": {"id": "world", "ledger": "main"}},
            "destination": {"account": {"id": destination, "ledger": "main"}},
            "amount": {"amount": amount, "asset": "EUR/2"},
        }
    }


def _ledger(sandbox: str) -> str:
    # Generous: a sandbox may hold its answers (reply latency).
    assert httpx.post(f"{sandbox}/api/ledger/v2/main", timeout=30).status_code == 204
    return sandbox


def _volumes(sandbox: str, account: str) -> dict[str, int]:
    answer = httpx.get(f"{sandbox}/api/ledger/v2/main/accounts/{account}?expand=volumes")
    volumes: dict[str, int] = codec.loads(answer.content)["data"]["volumes"]["EUR/2"]
    return volumes


def _transactions(sandbox: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{sandbox}/api/ledger/v2/main/transactions")
    data: list[dict[str, Any]] = codec.loads(answer.content)["cursor"]["data"]
    return data


def _activities(client: httpx.Client, instance_id: str) -> list[dict[str, Any]]:
    """The first stage's activities; none before the stage started (404)."""
    answer = client.get(f"/v2/instances/{instance_id}/stages/0/history")
    rows: list[dict[str, Any]] = answer.json()["data"] if answer.status_code == 200 else []
    return rows


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def test_an_event_runs_its_triggered_send_on_the_sandbox_once(
    run_stack: Callable[..., Stack], start_sandbox: Callable[..., str]
) -> None:
    sandbox = _ledger(start_sandbox())
    stack = run_stack(stack_url=sandbox)
    with stack.client() as client:
        workflow = client.post(
            "/v2/workflows",
            json={"name": "payout", "stages": [_send("${amount}", "${dst}")]},
        )
        assert workflow.status_code == 201, workflow.text
        trigger = client.post(
            "/v2/triggers",
            json={
                "event": "COMMITTED_TRANSACTIONS",
                "workflowID": workflow.json()["data"]["id"],
                "filter": 'event.ledger == "orders"',
                "vars": {
                    "amount": "event.transactions[0].postings[0].amount",
                    "dst": '"payouts:" + event.transactions[0].metadata.order',
                },
            },
        )
        assert trigger.status_code == 201, trigger.text
        trigger_id = trigger.json()["data"]["id"]
        event = {
            "idempotency_key": "order-17",
            "date": "2025-03-04T09:00:01Z",
            "app": "ledger",
            "version": "v2",
            "type": "COMMITTED_TRANSACTIONS",
            "payload": {
                "ledger": "orders",
                "transactions": [
                    {
                        "id": 1,
                        "postings": [
                            {"source": "a", "destination": "b", "amount": AMOUNT, "asset": "X"}
                        ],
                        "metadata": {"order": "17"},
                    }
                ],
            },
        }
        raw = codec.dumps(event)
        occurrences: list[dict[str, Any]] = []
        # The trigger reaches the worker through the definitions topic: publish
        # until it fires (the same idempotency key: one occurrence whatever the count).
        for _ in range(10):
            await publish(stack, raw)
            occurrences = poll(
                lambda: client.get(f"/v2/triggers/{trigger_id}/occurrences").json()["cursor"][
                    "data"
                ],
                bool,
                timeout=5,
            )
            if occurrences:
                break
        [occurrence] = occurrences
        instance_id = occurrence["workflowInstanceID"]
        done = poll(lambda: _instance(client, instance_id), lambda i: i["terminated"], timeout=60)
        assert "error" not in done, done
        [activity] = client.get(f"/v2/instances/{instance_id}/stages/0/history").json()["data"]
        # Redelivered: the same occurrence, the same instance, no second transaction.
        await publish(stack, raw)
        again = poll(
            lambda: client.get(f"/v2/triggers/{trigger_id}/occurrences").json()["cursor"]["data"],
            lambda rows: len(rows) > 1,
            timeout=5,
        )
        # Its start command was rejected (the instance finished): the run was
        # not repeated, so its stage history is the same, to the timestamps.
        assert _activities(client, instance_id) == [activity]
        assert len(_instance(client, instance_id)["status"]) == 1
    assert [o["id"] for o in again] == [occurrence["id"]]
    assert activity["name"] == "CreateTransaction"
    assert b"1180591620717411303427" in json.dumps(activity).encode()
    assert _volumes(sandbox, "payouts:17") == {"input": AMOUNT, "output": 0, "balance": AMOUNT}
    assert len(_transactions(sandbox)) == 1


def test_a_delay_outlives_a_killed_worker_and_fires_once_on_time(
    run_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = run_stack()
    with stack.client() as client:
        instance_id = _start(client, [{"delay": {"duration": "6s"}}])
        poll(lambda: _history(client, instance_id), lambda rows: len(rows) == 1, timeout=60)
        stack.respawn("worker", tmp_path / "worker-2.log")
        done = poll(lambda: _instance(client, instance_id), lambda i: i["terminated"], timeout=90)
        assert done["terminated"], (tmp_path / "worker-2.log").read_text()[-3000:]
        [stage] = _history(client, instance_id)
    assert "error" not in done, done
    assert stage["name"] == "RunDelay"
    assert stage["terminated"]
    # Re-armed at the recorded due time, not restarted from zero, not early.
    assert _when(stage["terminatedAt"]) - _when(stage["startedAt"]) >= timedelta(seconds=6)
    # Once: a second firing is rejected, so one status row and no error.
    statuses = client_statuses(stack, instance_id)
    assert len(statuses) == 1
    assert "error" not in statuses[0]


def client_statuses(stack: Stack, instance_id: str) -> list[dict[str, Any]]:
    with stack.client() as client:
        status: list[dict[str, Any]] = _instance(client, instance_id)["status"]
    return status


def test_a_send_in_flight_when_the_worker_dies_is_resent_with_its_key(
    run_stack: Callable[..., Stack], start_sandbox: Callable[..., str], tmp_path: Path
) -> None:
    # Every write is applied at once and its answer held 6 s: the worker is
    # killed after the CreateTransaction took effect, before its result was
    # recorded (the lost-answer crash that idempotency keys exist for).
    sandbox = _ledger(start_sandbox(env={"ORCHESTRATION_SANDBOX_REPLY_LATENCY": "6"}))
    stack = run_stack(stack_url=sandbox)
    with stack.client() as client:
        instance_id = _start(client, [_send(AMOUNT)])
        first = poll(lambda: _activities(client, instance_id), bool, timeout=60)
        assert first[0]["attempt"] == 1
        # Recorded before it is called: wait until the sandbox applied it.
        poll(lambda: _transactions(sandbox), bool, timeout=5)
        stack.respawn("worker", tmp_path / "worker-2.log")
        done = poll(lambda: _instance(client, instance_id), lambda i: i["terminated"], timeout=90)
        assert done["terminated"], (tmp_path / "worker-2.log").read_text()[-3000:]
        [activity] = _activities(client, instance_id)
    assert "error" not in done, done
    # The new owner re-sent the byte-identical request with the same key: the
    # sandbox applied the first and answered the second with the same transaction.
    assert activity["attempt"] == 2
    assert activity["terminated"]
    assert "error" not in activity
    assert len(_transactions(sandbox)) == 1
    assert _volumes(sandbox, "users:1") == {"input": AMOUNT, "output": 0, "balance": AMOUNT}
