"""A trigger fires from a transaction made on the sandbox: sandbox -> Kafka -> worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from streams import codec
from tests.e2e.conftest import Stack
from tests.sandbox.conftest import start_sandbox

__all__ = ["start_sandbox"]  # the sandbox process fixture, shared

pytestmark = pytest.mark.e2e

BIG = 2**70 + 3


def test_committed_transaction_on_the_sandbox_fires_a_trigger(
    run_stack: Callable[..., Stack], start_sandbox: Callable[..., str]
) -> None:
    stack = run_stack()  # the worker creates the inbound topics
    sandbox = start_sandbox(
        "--kafka-bootstrap",
        stack.kafka.kafka_bootstrap_servers,
        env={"ORCHESTRATION_TOPICS": ",".join(stack.kafka.topics)},
    )
    assert httpx.post(f"{sandbox}/api/ledger/v2/main").status_code == 204
    with stack.client() as http:
        workflow = http.post(
            "/v2/workflows", json={"name": "w", "stages": [{"wait_event": {"event": "go"}}]}
        )
        assert workflow.status_code == 201, workflow.text
        trigger = http.post(
            "/v2/triggers",
            json={
                "name": "big orders",
                "event": "COMMITTED_TRANSACTIONS",
                "version": "v2",
                "workflowID": workflow.json()["data"]["id"],
                "filter": 'event.ledger == "main" && event.transactions[0].metadata.order != nil',
                "vars": {"txID": "event.transactions[0].id"},
            },
        )
        assert trigger.status_code == 201, trigger.text
        trigger_id = trigger.json()["data"]["id"]
        posting = {"source": "world", "destination": "users:1", "asset": "EUR/2", "amount": BIG}
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 90
        # The trigger reaches the worker through the outbox; a transaction made
        # before it arrived is not matched, so make one more until one is.
        while not found and time.monotonic() < deadline:
            body = {"postings": [posting], "metadata": {"order": "A-17"}}
            made = httpx.post(
                f"{sandbox}/api/ledger/v2/main/transactions", content=codec.dumps(body)
            )
            assert made.status_code == 200
            for _ in range(10):
                got = http.get(f"/v2/triggers/{trigger_id}/occurrences")
                found = codec.loads(got.content)["cursor"]["data"]
                if found:
                    break
                time.sleep(0.3)
    assert found, "no occurrence from the sandbox's transactions"
    event = found[-1]["event"]
    assert (event["app"], event["type"]) == ("ledger", "COMMITTED_TRANSACTIONS")
    [tx] = event["payload"]["transactions"]
    assert tx["postings"][0]["amount"] == BIG
    assert tx["metadata"] == {"order": "A-17"}
