"""Instances run end to end: API -> commands topic -> instance runtime -> history -> API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from streams import codec
from tests.e2e.conftest import Stack
from tests.e2e.helpers import history as _history
from tests.e2e.helpers import instance as _instance
from tests.e2e.helpers import poll
from tests.e2e.helpers import start_instance as _start
from tests.sandbox.conftest import start_sandbox

__all__ = ["start_sandbox"]  # the sandbox process fixture, shared

pytestmark = pytest.mark.e2e

DELAY_THEN_WAIT = [{"delay": {"duration": "1s"}}, {"wait_event": {"event": "go"}}]


def _waiting_for_event(client: httpx.Client, instance_id: str) -> None:
    # Wait until the second stage has started, so the event reaches a
    # waiting stage (an earlier one is buffered: see the test below).
    poll(lambda: _history(client, instance_id), lambda rows: len(rows) == 2, timeout=60)


def test_delay_then_event_terminates_the_instance(run_stack: Callable[..., Stack]) -> None:
    stack = run_stack()
    with stack.client() as client:
        instance_id = _start(client, DELAY_THEN_WAIT)
        _waiting_for_event(client, instance_id)
        sent = client.post(f"/v2/instances/{instance_id}/events", json={"name": "go"})
        assert sent.status_code == 204, sent.text
        done = poll(lambda: _instance(client, instance_id), lambda i: i["terminated"], timeout=60)
        assert "error" not in done
        rows = _history(client, instance_id)
    assert [r["name"] for r in rows] == ["RunDelay", "RunWaitEvent"]
    assert all(r["terminated"] for r in rows)
    assert not any("error" in r for r in rows)


def test_an_event_posted_during_the_delay_completes_the_later_wait_event(
    run_stack: Callable[..., Stack],
) -> None:
    stack = run_stack()
    with stack.client() as client:
        instance_id = _start(client, [{"delay": {"duration": "5s"}}, *DELAY_THEN_WAIT[1:]])
        poll(lambda: _history(client, instance_id), lambda rows: len(rows) == 1, timeout=60)
        sent = client.post(f"/v2/instances/{instance_id}/events", json={"name": "go"})
        assert sent.status_code == 204, sent.text
        done = poll(lambda: _instance(client, instance_id), lambda i: i["terminated"], timeout=60)
        waited = _history(client, instance_id)[1]
    assert "error" not in done
    assert [s["stage"] for s in done["status"]] == [0, 1]
    # Completed the moment it started: by the kept event, not a live one.
    assert waited["name"] == "RunWaitEvent"
    assert waited["startedAt"] == waited["terminatedAt"]


def test_abort_terminates_a_waiting_instance(run_stack: Callable[..., Stack]) -> None:
    stack = run_stack()
    with stack.client() as client:
        instance_id = _start(client, [{"wait_event": {"event": "go"}}])
        poll(lambda: _history(client, instance_id), lambda rows: len(rows) == 1, timeout=60)
        aborted = client.put(f"/v2/instances/{instance_id}/abort")
        assert aborted.status_code == 204, aborted.text
        done = poll(lambda: _instance(client, instance_id), lambda i: i["terminated"], timeout=60)
    assert done["error"] == "canceled"


@pytest.mark.parametrize(
    "amount",
    # 2**70 + 7: a float would drop the 7 (workflow bodies kept such amounts
    # as floats until the API stopped converting them Go's way).
    [1500, 2**70 + 7],
)
def test_send_stage_moves_money_once(
    run_stack: Callable[..., Stack], start_sandbox: Callable[..., str], amount: int
) -> None:
    sandbox = start_sandbox()
    assert httpx.post(f"{sandbox}/api/ledger/v2/main").status_code == 204
    stack = run_stack(stack_url=sandbox)
    send = {
        "send": {
            "source": {"account": {"id": "world", "ledger": "main"}},
            "destination": {"account": {"id": "users:1", "ledger": "main"}},
            "amount": {"amount": amount, "asset": "EUR/2"},
        }
    }
    with stack.client() as client:
        instance_id = _start(client, [send])
        done = poll(lambda: _instance(client, instance_id), lambda i: i["terminated"], timeout=60)
        assert "error" not in done, done
        activities = client.get(f"/v2/instances/{instance_id}/stages/0/history").json()["data"]
    assert [a["name"] for a in activities] == ["CreateTransaction"]
    account = httpx.get(f"{sandbox}/api/ledger/v2/main/accounts/users:1?expand=volumes")
    volumes = codec.loads(account.content)["data"]["volumes"]["EUR/2"]
    assert volumes["input"] == amount
    assert volumes["output"] == 0


def test_a_restarted_worker_restores_waiting_instances_from_the_changelog(
    run_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = run_stack()
    with stack.client() as client:
        instance_id = _start(client, [{"wait_event": {"event": "go"}}])
        poll(lambda: _history(client, instance_id), lambda rows: len(rows) == 1, timeout=60)
        # The new process knows the instance only through the changelog: an
        # event reaching an unknown instance is rejected.
        stack.respawn("worker", tmp_path / "worker-2.log", kill=False)
        sent = client.post(f"/v2/instances/{instance_id}/events", json={"name": "go"})
        assert sent.status_code == 204, sent.text
        done = poll(lambda: _instance(client, instance_id), lambda i: i["terminated"], timeout=90)
    assert done["terminated"], (tmp_path / "worker-2.log").read_text()[-3000:]
    assert "error" not in done


@pytest.mark.parametrize("prefix", ["", "/v2"])
def test_wait_answers_once_the_instance_terminated_with_its_error(
    run_stack: Callable[..., Stack], prefix: str
) -> None:
    # A 1 s delay then a stage that fails: the answer can only carry the
    # failure if the API waited for the worker to run both stages.
    stages = [{"delay": {"duration": "1s"}}, {"delay": {"duration": "-2s"}}]
    stack = run_stack()
    with stack.client() as client:
        created = client.post(f"{prefix}/workflows", json={"name": "waited", "stages": stages})
        assert created.status_code == 201, created.text
        workflow_id = created.json()["data"]["id"]
        run = client.post(
            f"{prefix}/workflows/{workflow_id}/instances", params={"wait": "true"}, timeout=90
        )
    assert run.status_code == 201, run.text
    instance = run.json()["data"]
    assert instance["terminated"] is True
    assert instance["error"] == "negative duration provided -2s"
    assert instance["workflow"]["id"] == workflow_id
    assert [s["stage"] for s in instance["status"]] == [0, 1]
    assert instance["status"][1]["error"] == instance["error"]


def test_pause_mode_holds_an_underfunded_send_until_resumed(
    run_stack: Callable[..., Stack], start_sandbox: Callable[..., str]
) -> None:
    sandbox = start_sandbox()
    assert httpx.post(f"{sandbox}/api/ledger/v2/main").status_code == 204
    stack = run_stack(stack_url=sandbox, pause_stage_activities="true")
    send = {
        "send": {
            "source": {"account": {"id": "users:1", "ledger": "main"}},
            "destination": {"account": {"id": "users:2", "ledger": "main"}},
            "amount": {"amount": 100, "asset": "EUR/2"},
        }
    }
    with stack.client() as client:
        created = client.post(
            "/v2/workflows", json={"name": "paused", "activityMaxAttempts": 1, "stages": [send]}
        )
        assert created.status_code == 201, created.text
        run = client.post(f"/v2/workflows/{created.json()['data']['id']}/instances", json={})
        instance_id = run.json()["data"]["id"]
        # INSUFFICIENT_FUND with a budget of 1: held, not failed.
        held = poll(
            lambda: _instance(client, instance_id),
            lambda i: "pendingActivities" in (i.get("status") or [{}])[0],
            timeout=60,
        )
        assert held["terminated"] is False
        (pending,) = held["status"][0]["pendingActivities"]
        assert pending["name"] == "CreateTransaction"
        assert pending["lastFailureType"] == "INSUFFICIENT_FUND"
        assert pending["reason"] == "ACTIVITY_ATTEMPT_LIMIT:1"
        # Fund the source, then release the hold.
        funded = httpx.post(
            f"{sandbox}/api/ledger/v2/main/transactions",
            json={
                "postings": [
                    {"source": "world", "destination": "users:1", "asset": "EUR/2", "amount": 100}
                ]
            },
        )
        assert funded.status_code == 200, funded.text
        path = f"/v2/instances/{instance_id}/stages/0/activities/{pending['activityID']}/resume"
        resumed = client.post(
            path,
            json={"temporalRunID": pending["temporalRunID"], "pausedAt": pending["pausedAt"]},
        )
        assert resumed.status_code == 204, resumed.text
        done = poll(lambda: _instance(client, instance_id), lambda i: i["terminated"], timeout=60)
        activities = client.get(f"/v2/instances/{instance_id}/stages/0/history").json()["data"]
    assert "error" not in done, done
    assert [(a["name"], a["attempt"]) for a in activities] == [("CreateTransaction", 1)]
    account = httpx.get(f"{sandbox}/api/ledger/v2/main/accounts/users:2?expand=volumes")
    assert codec.loads(account.content)["data"]["volumes"]["EUR/2"]["balance"] == 100
