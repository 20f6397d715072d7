"""Occurrences as large as the limits allow travel, larger ones are recorded
with an error, and neither stops the line (a send the broker refused once left
the idempotent producer failing every later batch, until restart)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import publish

pytestmark = pytest.mark.e2e


def event(tx_id: int, blob: str) -> bytes:
    return json.dumps(
        {
            "date": "2025-03-04T09:00:01Z",
            "app": "ledger",
            "version": "v2",
            "type": "COMMITTED_TRANSACTIONS",
            "idempotency_key": f"big-{tx_id}",
            "payload": {"ledger": "main", "id": tx_id, "blob": blob},
        }
    ).encode()


async def test_large_vars_never_stop_matching(run_stack: Callable[..., Stack]) -> None:
    stack = run_stack()
    with stack.client() as http:
        workflow = http.post("/v2/workflows", json={"name": "w", "stages": []}).json()["data"]
        trigger = http.post(
            "/v2/triggers",
            json={
                "name": "copies",
                "event": "COMMITTED_TRANSACTIONS",
                "workflowID": workflow["id"],
                # Each var is a copy of the event: the record is ~3x the event.
                "vars": {"a": "toJSON(event)", "b": "toJSON(event)"},
            },
        ).json()["data"]

        def occurrences() -> dict[int, dict[str, Any]]:
            page = http.get(
                f"/v2/triggers/{trigger['id']}/occurrences", params={"pageSize": 100}
            ).json()["cursor"]["data"]
            return {o["event"]["payload"]["id"]: o for o in page}

        # Wait until the trigger reached the worker (a small canary fires).
        deadline = time.monotonic() + 60
        while 0 not in occurrences() and time.monotonic() < deadline:
            await publish(stack, event(0, "small"))
            await asyncio.sleep(0.5)
        assert 0 in occurrences()

        # 600 KB event: a ~1.8 MB record, above the broker's default 1 MiB and
        # within the topic's limit (twice an event). 900 KB: ~2.7 MB, beyond.
        await publish(stack, event(1, "x" * 600_000), event(2, "y" * 900_000), event(3, "ok"))
        deadline = time.monotonic() + 60
        found = occurrences()
        while not {1, 2, 3} <= found.keys() and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            found = occurrences()
    assert {1, 2, 3} <= found.keys(), sorted(found)
    assert "error" not in found[1]
    assert found[1]["workflowInstanceID"]
    assert "record limit" in found[2]["error"]
    assert "workflowInstanceID" not in found[2]
    assert "error" not in found[3], "the canary after them matched normally"
