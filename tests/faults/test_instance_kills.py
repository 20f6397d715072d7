"""Instances outlive killed workers, and money moves once whatever the kills.

Real processes (`orchestration api`, `worker`, `sandbox`), the session's
Kafka broker and PostgreSQL; workers are stopped with SIGKILL only.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from compose.localstack import free_port
from streams import codec
from tests.e2e.conftest import Stack, run_stack
from tests.e2e.test_instance_runtime import _start
from tests.e2e.test_walking_skeleton import poll, publish
from tests.sandbox.conftest import start_sandbox

__all__ = ["run_stack", "start_sandbox"]  # process fixtures, shared

pytestmark = pytest.mark.e2e

PAYOUTS = 1000
KILLS = 5


def _terminated(stack: Stack, workflow_id: str) -> int:
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM workflow_instances WHERE workflow_id = %s AND terminated"
            " AND error IS NULL",
            (workflow_id,),
        ).fetchone()
    return int(row[0]) if row else 0


def _payout(i: int) -> bytes:
    return codec.dumps(
        {
            "idempotency_key": f"payout-{i}",
            "date": "2025-03-04T09:00:01Z",
            "app": "ledger",
            "version": "v2",
            "type": "COMMITTED_TRANSACTIONS",
            "payload": {
                "ledger": "orders",
                "transactions": [
                    {
                        "id": i,
                        # 2^64 + i: beyond any machine integer, exact or wrong.
                        "postings": [{"amount": 2**64 + i, "destination": f"payouts:{i}"}],
                    }
                ],
            },
        }
    )


def _transactions(sandbox: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = "?pageSize=1000" + (f"&cursor={cursor}" if cursor else "")
        page = codec.loads(httpx.get(f"{sandbox}/api/ledger/v2/main/transactions{query}").content)
        found += page["cursor"]["data"]
        cursor = page["cursor"].get("next")
        if not page["cursor"]["hasMore"]:
            return found


async def test_payouts_move_money_once_while_the_worker_is_killed_again_and_again(
    run_stack: Callable[..., Stack], start_sandbox: Callable[..., str], tmp_path: Path
) -> None:
    sandbox = start_sandbox()
    assert httpx.post(f"{sandbox}/api/ledger/v2/main").status_code == 204  # noqa: ASYNC210
    stack = run_stack(stack_url=sandbox, log_level="WARNING")
    send = {
        "send": {
            "source": {"account": {"id": "world", "ledger": "main"}},
            "destination": {"account": {"id": "${dst}", "ledger": "main"}},
            "amount": {"amount": "${amount}", "asset": "EUR/2"},
        }
    }
    with stack.client() as client:
        workflow = client.post("/v2/workflows", json={"name": "payouts", "stages": [send]})
        workflow_id = workflow.json()["data"]["id"]
        trigger = client.post(
            "/v2/triggers",
            json={
                "event": "COMMITTED_TRANSACTIONS",
                "workflowID": workflow_id,
                "filter": 'event.ledger == "orders"',
                "vars": {
                    "amount": "event.transactions[0].postings[0].amount",
                    "dst": "event.transactions[0].postings[0].destination",
                },
            },
        )
        assert trigger.status_code == 201, trigger.text
    # Payout 0 doubles as the probe: published until the trigger is live
    # (the same idempotency key: one instance however often).
    for _ in range(20):
        await publish(stack, _payout(0))
        if poll(lambda: _terminated(stack, workflow_id), bool, timeout=3):
            break
    await publish(stack, *(_payout(i) for i in range(1, PAYOUTS)))
    draw = random.Random(20261203)  # fixed: a failing run can be replayed
    for kill in range(KILLS):
        time.sleep(draw.uniform(1.0, 4.0))  # noqa: ASYNC251 (nothing else runs on this loop)
        stack.respawn("worker", tmp_path / f"worker-{kill + 2}.log")
    done = poll(lambda: _terminated(stack, workflow_id), lambda n: n >= PAYOUTS, timeout=300)
    assert done == PAYOUTS, (tmp_path / f"worker-{KILLS + 1}.log").read_text()[-3000:]

    transactions = _transactions(sandbox)
    # One transaction per payout: no idempotency key applied twice, none lost.
    assert len(transactions) == PAYOUTS
    moved = {t["postings"][0]["destination"]: t["postings"][0]["amount"] for t in transactions}
    assert moved == {f"payouts:{i}": 2**64 + i for i in range(PAYOUTS)}
    world = codec.loads(
        httpx.get(f"{sandbox}/api/ledger/v2/main/accounts/world?expand=volumes").content  # noqa: ASYNC210
    )["data"]["volumes"]["EUR/2"]
    assert world["output"] == sum(2**64 + i for i in range(PAYOUTS))


def test_a_surviving_worker_finishes_the_instances_of_a_killed_one(
    run_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = run_stack()
    with (tmp_path / "worker-b.log").open("wb") as log:
        stack.processes["worker-b"] = subprocess.Popen(
            [sys.executable, "-m", "compose", "worker"],
            # Its own probes port: the first worker holds the stack's.
            env={**stack.env, "ORCHESTRATION_WORKER_METRICS_PORT": str(free_port())},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    # Both workers share the commands partitions; instances spread over both.
    time.sleep(12)  # let the group settle so both hold partitions
    with stack.client() as client:
        ids = [_start(client, [{"delay": {"duration": "8s"}}]) for _ in range(24)]
        poll(
            lambda: [client.get(f"/v2/instances/{i}/history").json()["data"] for i in ids],
            lambda rows: all(rows),
            timeout=60,
        )
        # SIGKILL: no goodbye to the group; its partitions move after the
        # session timeout (10 s), and the survivor restores and re-arms them.
        stack.processes["worker"].kill()
        stack.processes["worker"].wait(timeout=20)
        finished = poll(
            lambda: [client.get(f"/v2/instances/{i}").json()["data"] for i in ids],
            lambda rows: all(r["terminated"] for r in rows),
            timeout=120,
        )
    assert all(r["terminated"] for r in finished), (tmp_path / "worker-b.log").read_text()[-3000:]
    assert not any("error" in r for r in finished)
    # The survivor took live instances over from the killed worker's partitions.
    restores = [
        line
        for line in map(_json_line, (tmp_path / "worker-b.log").read_text().splitlines())
        if line.get("event") == "instances.restored"
    ]
    assert any(r["instances"] > 0 for r in restores), restores


def _json_line(text: str) -> dict[str, Any]:
    try:
        line = codec.loads(text)
    except ValueError:
        return {}
    return line if isinstance(line, dict) else {}


def test_a_paused_worker_resumed_after_a_takeover_changes_nothing(
    run_stack: Callable[..., Stack], start_sandbox: Callable[..., str], tmp_path: Path
) -> None:
    # Writes are applied at once and answered 8 s later: the first worker is
    # frozen (SIGSTOP) with its CreateTransaction applied and unanswered.
    sandbox = start_sandbox(env={"ORCHESTRATION_SANDBOX_REPLY_LATENCY": "8"})
    assert httpx.post(f"{sandbox}/api/ledger/v2/main", timeout=30).status_code == 204
    stack = run_stack(stack_url=sandbox)
    send = {
        "send": {
            "source": {"account": {"id": "world", "ledger": "main"}},
            "destination": {"account": {"id": "users:1", "ledger": "main"}},
            "amount": {"amount": 2**64 + 1, "asset": "EUR/2"},
        }
    }
    zombie = stack.processes["worker"]
    with stack.client() as client:
        instance_id = _start(client, [send])
        poll(lambda: _transactions(sandbox), bool, timeout=60)
        zombie.send_signal(signal.SIGSTOP)
        try:
            with (tmp_path / "worker-b.log").open("wb") as log:
                stack.processes["worker-b"] = subprocess.Popen(
                    [sys.executable, "-m", "compose", "worker"],
                    env={**stack.env, "ORCHESTRATION_WORKER_METRICS_PORT": str(free_port())},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            # The frozen member's session (10 s) expires; the new one takes the
            # partitions, fences the old transactional producers, re-sends.
            done = poll(
                lambda: client.get(f"/v2/instances/{instance_id}").json()["data"],
                lambda i: i["terminated"],
                timeout=120,
            )
            assert done["terminated"], (tmp_path / "worker-b.log").read_text()[-3000:]
            stages = client.get(f"/v2/instances/{instance_id}/stages/0/history").json()["data"]
        finally:
            zombie.send_signal(signal.SIGCONT)
        # The zombie wakes up, gets its (late) answer and reports it, may try
        # to commit what it held: nothing of it is applied.
        time.sleep(15)
        after = client.get(f"/v2/instances/{instance_id}").json()["data"]
        stages_after = client.get(f"/v2/instances/{instance_id}/stages/0/history").json()["data"]
    assert "error" not in done
    assert after == done
    assert stages_after == stages
    assert stages[0]["attempt"] == 2
    assert len(_transactions(sandbox)) == 1
