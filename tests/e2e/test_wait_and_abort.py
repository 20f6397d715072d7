"""`wait_event` and abort against the running stack (BEHAVIOUR 5.5, 8.3-8.5, 3.10-3.11, 15 item 17).

Events: posted before the stage (kept, then taken in arrival order), while it
waits, twice, with another name. Abort: during a delay, during the retries of
an activity whose replies the sandbox keeps cutting off (applied, answer
lost: the same Idempotency-Key every attempt), and while an activity is in
flight (the sandbox holds the answer of an applied write). Each checks the
instance, its status rows, both histories and, where money moves, that the
sandbox applied it once.

Two stacks shared by the module, each with its own sandbox: "held" (every
write's answer held 6 s after it is applied) also runs the event tests, which
call no stack; "dropped" cuts every write's answer off. Stage-free ledger
`wallets-002` exists in every sandbox from the start, so neither needs a
seeding write (which their faults would hit too).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Launcher, Stack
from tests.e2e.helpers import (
    SandboxClient,
    events_of,
    history,
    instance,
    poll,
    read_events,
    stage_history,
    start_instance,
    terminated,
)

pytestmark = pytest.mark.e2e

LEDGER = "wallets-002"  # present in a fresh sandbox
AMOUNT = 2**70 + 3  # not a power of two: a float on the way would change it
HELD_REPLY_S = 6  # long enough for an abort to overtake the answer on a busy box


@pytest.fixture(scope="module")
def held(module_launcher: Launcher) -> tuple[Stack, str]:
    return module_launcher.stack_on_sandbox(
        "held", sandbox_env={"ORCHESTRATION_SANDBOX_REPLY_LATENCY": str(HELD_REPLY_S)}
    )


@pytest.fixture(scope="module")
def dropped(module_launcher: Launcher) -> tuple[Stack, str]:
    return module_launcher.stack_on_sandbox(
        "dropped", sandbox_env={"ORCHESTRATION_SANDBOX_DROP_RATE": "1"}
    )


def _send(account: str) -> dict[str, Any]:
    return {
        "send": {
            "source": {"account": {"id": "world", "ledger": LEDGER}},
            "destination": {"account": {"id": account, "ledger": LEDGER}},
            "amount": {"amount": AMOUNT, "asset": "EUR/2"},
        }
    }


def _post_event(client: httpx.Client, instance_id: str, name: str) -> None:
    sent = client.post(f"/v2/instances/{instance_id}/events", json={"name": name})
    assert sent.status_code == 204, sent.text


def _started(client: httpx.Client, instance_id: str, stages: int) -> list[dict[str, Any]]:
    """The instance history once `stages` stages have started."""
    rows: list[dict[str, Any]] = poll(
        lambda: history(client, instance_id), lambda rows: len(rows) >= stages, timeout=60
    )
    assert len(rows) >= stages, rows
    return rows


def _abort(client: httpx.Client, instance_id: str) -> dict[str, Any]:
    aborted = client.put(f"/v2/instances/{instance_id}/abort")
    assert aborted.status_code == 204, aborted.text
    return terminated(client, instance_id)


def _assert_canceled_at(done: dict[str, Any], stage: int) -> None:
    """8.5: the stage's row and the instance end `canceled`; later stages never start."""
    assert done["terminated"] is True, done
    assert done.get("error") == "canceled", done
    rows = done["status"]
    assert [row["stage"] for row in rows] == list(range(stage + 1))
    assert rows[stage]["error"] == "canceled"
    assert "terminatedAt" in rows[stage]
    assert not any("error" in row for row in rows[:stage])


# -- events -------------------------------------------------------------------


def test_events_posted_before_the_stage_are_kept_and_taken_in_arrival_order(
    held: tuple[Stack, str],
) -> None:
    stack, _ = held
    stages = [
        {"delay": {"duration": "2s"}},
        {"wait_event": {"event": "first"}},
        {"wait_event": {"event": "second"}},
    ]
    with stack.client() as client:
        instance_id = start_instance(client, stages)
        # Before stage 1 exists: kept (15 item 17). Stage 1 then takes them in
        # order as if posted when it started (5.5): "second" and "other" come
        # before its match and are discarded, "first" completes it at once.
        for name in ("second", "other", "first"):
            _post_event(client, instance_id, name)
        rows = _started(client, instance_id, 3)
        # Stage 2 found nothing kept (its "second" was consumed by stage 1) and
        # waits for a live one.
        assert rows[2]["name"] == "RunWaitEvent"
        assert rows[2]["terminated"] is False, rows
        _post_event(client, instance_id, "second")
        done = terminated(client, instance_id)
        rows = history(client, instance_id)
    assert done["terminated"] is True
    assert "error" not in done, done
    assert [r["name"] for r in rows] == ["RunDelay", "RunWaitEvent", "RunWaitEvent"]
    assert [r["input"] for r in rows[1:]] == [{"event": "first"}, {"event": "second"}]
    # Completed the moment it started, by the kept event; stage 2 by the live one.
    assert rows[1]["startedAt"] == rows[1]["terminatedAt"]
    assert rows[2]["startedAt"] != rows[2]["terminatedAt"]
    assert all(r["terminated"] and "error" not in r for r in rows)


def test_an_event_posted_while_the_stage_waits_completes_it(held: tuple[Stack, str]) -> None:
    stack, _ = held
    with stack.client() as client:
        instance_id = start_instance(client, [{"wait_event": {"event": "go"}}, {"noop": {}}])
        [waiting] = _started(client, instance_id, 1)
        assert waiting["terminated"] is False
        assert instance(client, instance_id)["terminated"] is False
        _post_event(client, instance_id, "go")
        done = terminated(client, instance_id)
        rows = history(client, instance_id)
        # After the end an event is refused (3.10: the execution is completed).
        late = client.post(f"/v2/instances/{instance_id}/events", json={"name": "go"})
        activities = stage_history(client, instance_id, 0)
    assert "error" not in done, done
    assert [s["stage"] for s in done["status"]] == [0, 1]
    assert [(r["name"], r["input"], r["terminated"]) for r in rows] == [
        ("RunWaitEvent", {"event": "go"}, True),
        ("RunNoop", {}, True),
    ]
    assert activities == []  # a wait runs no activity
    assert late.status_code == 400, late.text
    assert late.json()["errorMessage"] == "workflow execution already completed"


def test_the_same_event_twice_completes_one_wait_only(held: tuple[Stack, str]) -> None:
    stack, _ = held
    stages = [
        {"wait_event": {"event": "go"}},
        {"wait_event": {"event": "done"}},
        {"wait_event": {"event": "go"}},
    ]
    with stack.client() as client:
        instance_id = start_instance(client, stages)
        _started(client, instance_id, 1)
        # The first completes stage 0; the second reaches stage 1, which waits
        # for "done": consumed and discarded (5.5), not kept for stage 2.
        _post_event(client, instance_id, "go")
        _post_event(client, instance_id, "go")
        _post_event(client, instance_id, "done")
        _started(client, instance_id, 3)
        # Commands of one instance apply in order: had the second "go" been
        # kept, stage 2 would have ended before this abort arrived.
        done = _abort(client, instance_id)
        rows = history(client, instance_id)
    _assert_canceled_at(done, 2)
    assert [(r["input"]["event"], r.get("error")) for r in rows] == [
        ("go", None),
        ("done", None),
        ("go", "canceled"),
    ]


def test_an_event_with_another_name_leaves_the_stage_waiting(held: tuple[Stack, str]) -> None:
    stack, _ = held
    with stack.client() as client:
        instance_id = start_instance(client, [{"wait_event": {"event": "go"}}])
        _started(client, instance_id, 1)
        # Accepted (204) and discarded: names match exactly, case included.
        for name in ("nope", "Go", "go "):
            _post_event(client, instance_id, name)
        done = _abort(client, instance_id)  # applied after the three: still waiting
        [row] = history(client, instance_id)
    _assert_canceled_at(done, 0)
    assert (row["name"], row["terminated"], row["error"]) == ("RunWaitEvent", True, "canceled")


# -- abort --------------------------------------------------------------------


async def test_abort_during_a_delay_cancels_the_timer_and_the_later_stages(
    held: tuple[Stack, str],
) -> None:
    stack, _ = held
    with stack.client() as client:
        instance_id = start_instance(client, [{"delay": {"duration": "1h"}}, {"noop": {}}])
        workflow_id = instance(client, instance_id)["workflowID"]
        [waiting] = _started(client, instance_id, 1)
        assert waiting["terminated"] is False
        done = _abort(client, instance_id)
        rows = history(client, instance_id)
        # Aborting a terminated instance is a no-op (3.11): 204, nothing changes.
        again = client.put(f"/v2/instances/{instance_id}/abort")
        assert again.status_code == 204, again.text
        assert instance(client, instance_id) == done
    _assert_canceled_at(done, 0)
    assert [(r["name"], r["input"], r["error"]) for r in rows] == [
        ("RunDelay", {"duration": "1h0m0s"}, "canceled")
    ]
    seen = await read_events(
        stack,
        lambda seen: any(t == "FAILED_WORKFLOW" for t, _ in events_of(seen, instance_id)),
    )
    base = {"id": workflow_id, "instanceID": instance_id}
    assert events_of(seen, instance_id) == [
        ("STARTED_WORKFLOW", base),
        ("STARTED_WORKFLOW_STAGE", base | {"number": 0}),
        ("FAILED_WORKFLOW_STAGE", base | {"number": 0, "error": "canceled"}),
        ("FAILED_WORKFLOW", base | {"error": "canceled"}),
    ]


def test_abort_during_retries_cancels_the_activity_and_moves_money_once(
    dropped: tuple[Stack, str],
) -> None:
    stack, url = dropped
    with stack.client() as client, httpx.Client(base_url=url, timeout=30) as http:
        sandbox = SandboxClient(http)
        instance_id = start_instance(client, [_send("users:retried"), {"noop": {}}])

        def posts() -> list[dict[str, Any]]:
            return [c for c in sandbox.journal() if c["method"] == "POST"]

        # Every answer is cut off after the write applied: the worker sees a
        # broken connection and retries (2 s, then 4 s) with the same key.
        # Abort once a retry reached the sandbox and the history shows it.
        calls, retrying = poll(
            lambda: (posts(), stage_history(client, instance_id, 0)),
            lambda seen: len(seen[0]) >= 2 and bool(seen[1]) and seen[1][0]["attempt"] >= 2,
            timeout=60,
        )
        assert len(calls) >= 2, calls
        [pending] = retrying
        assert (pending["name"], pending["terminated"]) == ("CreateTransaction", False)
        assert "lastFailure" in pending
        done = _abort(client, instance_id)
        [activity] = stage_history(client, instance_id, 0)
        calls = posts()
        transactions = sandbox.transactions(LEDGER)
        balance = sandbox.balance(LEDGER, "users:retried")
    _assert_canceled_at(done, 0)
    assert activity["name"] == "CreateTransaction"
    assert (activity["terminated"], activity["error"]) == (True, "cancelled")
    assert activity["attempt"] >= 2
    assert "output" not in activity
    # Each attempt reached the sandbox with the one key; it applied the first.
    assert {c["fault"] for c in calls} == {"drop"}
    assert len({c["idempotencyKey"] for c in calls}) == 1
    moved = [t for t in transactions if t["postings"][0]["destination"] == "users:retried"]
    assert len(moved) == 1, transactions
    assert moved[0]["postings"][0]["amount"] == AMOUNT
    assert balance == AMOUNT


def test_abort_while_an_activity_is_in_flight_stops_waiting_for_its_answer(
    held: tuple[Stack, str],
) -> None:
    stack, url = held
    with stack.client() as client, httpx.Client(base_url=url, timeout=30) as http:
        sandbox = SandboxClient(http)
        instance_id = start_instance(client, [_send("users:in-flight"), {"noop": {}}])
        # Applied on the sandbox; its answer is held for HELD_REPLY_S seconds.
        applied = poll(lambda: sandbox.balance(LEDGER, "users:in-flight"), bool, timeout=60)
        assert applied == AMOUNT
        in_flight = stage_history(client, instance_id, 0)
        done = _abort(client, instance_id)
        # The answer arrives after the abort: the worker drops it (no activity
        # in flight any more) and calls nothing again.
        answered = poll(
            lambda: [c for c in sandbox.journal() if c["method"] == "POST"], bool, timeout=60
        )
        assert len(answered) == 1, answered
        after = stage_history(client, instance_id, 0)
        still = instance(client, instance_id)
        transactions = sandbox.transactions(LEDGER)
    assert [(a["name"], a["terminated"]) for a in in_flight] in ([], [("CreateTransaction", False)])
    _assert_canceled_at(done, 0)
    [activity] = after
    assert (activity["name"], activity["terminated"]) == ("CreateTransaction", True)
    assert (activity["error"], activity["attempt"]) == ("cancelled", 1)
    assert "output" not in activity
    assert still == done
    assert answered[0]["status"] == 200
    moved = [t for t in transactions if t["postings"][0]["destination"] == "users:in-flight"]
    assert [t["postings"][0]["amount"] for t in moved] == [AMOUNT]
