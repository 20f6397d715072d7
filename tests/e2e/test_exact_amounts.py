"""Amounts beyond 64 bits stay exact from Kafka through Postgres to the API.

Ledger amounts are arbitrary-precision integers. The event is produced with
the stdlib encoder (exact), read back with httpx's stdlib decoder (exact):
a float anywhere on the path would change the last digits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import poll, publish

pytestmark = pytest.mark.e2e

# Not powers of two: a float holds 2**70 exactly and would compare equal.
AMOUNTS = (2**64 + 1, 2**70 + 3, -(2**70) - 5)


def big_event(tx_id: int) -> dict[str, Any]:
    return {
        "date": "2025-03-04T09:00:01.25Z",
        "app": "ledger",
        "version": "v2",
        "type": "COMMITTED_TRANSACTIONS",
        "payload": {
            "ledger": "main",
            "transactions": [
                {
                    "id": tx_id,
                    "postings": [
                        {"source": "world", "destination": "a", "amount": a, "asset": "EUR/2"}
                        for a in AMOUNTS
                    ],
                }
            ],
        },
    }


VARS = {f"amount{i}": f"event.transactions[0].postings[{i}].amount" for i in range(len(AMOUNTS))}
EXPECTED_VARS = {f"amount{i}": str(a) for i, a in enumerate(AMOUNTS)}


async def test_big_amounts_stay_exact_on_every_path(run_stack: Callable[..., Stack]) -> None:
    stack = run_stack()
    send = {
        "send": {
            "source": {"account": {"id": "world", "ledger": "main"}},
            "destination": {"account": {"id": "bank", "ledger": "main"}},
            "amount": {"amount": 2**70 + 7, "asset": "EUR/2"},
        }
    }
    with stack.client() as http:
        created = http.post("/v2/workflows", json={"name": "big", "stages": [send]})
        assert created.status_code == 201, created.text
        workflow_id = created.json()["data"]["id"]
        for path in (f"/v2/workflows/{workflow_id}", f"/workflows/{workflow_id}"):
            stages = http.get(path).json()["data"]["config"]["stages"]
            assert stages[0]["send"]["amount"]["amount"] == 2**70 + 7, path

        trigger = http.post(
            "/v2/triggers",
            json={
                "name": "big amounts",
                "event": "COMMITTED_TRANSACTIONS",
                "workflowID": workflow_id,
                "vars": VARS,
            },
        )
        assert trigger.status_code == 201, trigger.text
        trigger_id = trigger.json()["data"]["id"]

        tested = http.post(f"/v2/triggers/{trigger_id}/test", json=big_event(1)["payload"])
        assert tested.status_code == 200, tested.text
        assert tested.json()["data"]["variables"] == {
            name: {"value": value} for name, value in EXPECTED_VARS.items()
        }

        event = big_event(7)
        deadline = time.monotonic() + 60
        found: list[dict[str, Any]] = []
        while not found and time.monotonic() < deadline:
            await publish(stack, json.dumps(event).encode())
            found = poll(
                lambda: http.get(f"/v2/triggers/{trigger_id}/occurrences").json()["cursor"]["data"],
                bool,
                timeout=3,
            )
        assert len(found) == 1, found
        postings = found[0]["event"]["payload"]["transactions"][0]["postings"]
        assert [p["amount"] for p in postings] == list(AMOUNTS)
        assert found[0]["event"]["payload"] == event["payload"]

        v1 = http.get(f"/triggers/{trigger_id}/occurrences").json()["data"]
        v1_postings = v1[0]["event"]["payload"]["transactions"][0]["postings"]
        assert [p["amount"] for p in v1_postings] == list(AMOUNTS)
        instance_id = found[0]["workflowInstanceID"]

    # Instance variables are not served by the API (upstream neither); they are
    # what the instance runs with, so read them where the projection keeps them.
    url = stack.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT variables FROM workflow_instances WHERE id = %s", (instance_id,)
        ).fetchone()
    assert row is not None
    assert row[0] == EXPECTED_VARS
