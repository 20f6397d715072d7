from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.activities import idempotency_key
from engine.commands import StartInstance
from engine.instance import (
    EVENT_BUFFER,
    Abort,
    ActivityFailed,
    ActivitySucceeded,
    CallActivity,
    CancelTimer,
    Effect,
    EmitHistory,
    EventReceived,
    Input,
    InstanceState,
    Outcome,
    SetTimer,
    Start,
    Terminated,
    TimerFired,
    retry_delay,
    step,
)
from streams import codec

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)
STACK = "stack1"
INSTANCE = "inst1"


def start(stages: list[dict[str, Any]], **config: Any) -> Outcome:
    command = StartInstance(
        id="cmd1",
        instance_id=INSTANCE,
        workflow_id="wf1",
        config={"name": "w", "stages": stages, **config},
        variables={"dst": "users:002"},
        created_at="2025-03-04T10:00:00Z",
    )
    return step(None, Start(command, STACK, T0))


def records(outcome: Outcome) -> list[dict[str, Any]]:
    return [dict(e.record) for e in outcome.effects if isinstance(e, EmitHistory)]


def calls(outcome: Outcome) -> list[CallActivity]:
    return [e for e in outcome.effects if isinstance(e, CallActivity)]


def of(outcome: Outcome, kind: type[Effect]) -> list[Effect]:
    return [e for e in outcome.effects if isinstance(e, kind)]


def terminal(outcome: Outcome) -> dict[str, Any]:
    (record,) = [r for r in records(outcome) if r["type"] == "instance.terminated"]
    assert of(outcome, Terminated) == [Terminated()]
    assert outcome.state is not None
    assert outcome.state.terminated
    return record


def test_noop_workflow_terminates_successfully_with_its_records() -> None:
    outcome = start([{"noop": {}}])
    kinds = [(r["type"], r.get("terminatedAt") is not None) for r in records(outcome)]
    assert kinds == [
        ("stage.status", False),
        ("stage.history", False),
        ("stage.history", True),
        ("stage.status", True),
        ("instance.terminated", True),
    ]
    assert "error" not in terminal(outcome)
    history = records(outcome)[2]
    assert history["name"] == "RunNoop"
    assert history["input"] == {}
    assert history["terminated"] is True


def test_no_stages_goes_straight_to_success() -> None:
    outcome = start([])
    assert [r["type"] for r in records(outcome)] == ["instance.terminated"]
    assert "error" not in terminal(outcome)


def drive(outcome: Outcome, now: datetime) -> Outcome:
    """Feed the effects back: activities succeed, timers fire at their due time."""
    while outcome.state is not None and not outcome.state.terminated:
        effect = next(e for e in outcome.effects if isinstance(e, (CallActivity, SetTimer)))
        event: Input
        if isinstance(effect, CallActivity):
            event = ActivitySucceeded(effect.activity_id, None, now)
        else:
            now = effect.due
            event = TimerFired(effect.timer_id, now)
        outcome = step(outcome.state, event)
        assert outcome.rejected is None
    return outcome


def test_three_stage_workflow_runs_from_start_to_terminated() -> None:
    outcome = start(
        [
            {"delay": {"duration": "10s"}},
            {"update": {"account": {"id": "users:001", "metadata": {"tier": "gold"}}}},
            {
                "send": {
                    "source": {"account": {"id": "users:001"}},
                    "destination": {"account": {"id": "${dst}"}},
                    "amount": {"amount": 1500, "asset": "EUR/2"},
                }
            },
        ]
    )
    assert of(outcome, SetTimer) == [SetTimer(f"{INSTANCE}:0:delay", T0 + timedelta(seconds=10))]
    done = drive(outcome, T0)
    assert "error" not in terminal(done)
    assert done.state is not None
    assert done.state.stage == 3


def test_wait_event_waits_for_the_matching_name() -> None:
    outcome = start([{"wait_event": {"event": "go"}}])
    state = outcome.state
    assert state is not None
    assert not state.terminated
    other = step(state, EventReceived("other", T0))
    assert other.state == state
    assert other.effects == ()
    assert other.rejected is not None
    done = step(state, EventReceived("go", T0 + timedelta(seconds=1)))
    assert "error" not in terminal(done)
    history = [r for r in records(done) if r["type"] == "stage.history"]
    assert history[0]["name"] == "RunWaitEvent"
    assert history[0]["input"] == {"event": "go"}


def test_update_calls_add_account_metadata_with_the_idempotency_key() -> None:
    outcome = start([{"update": {"account": {"id": "users:001", "metadata": {"a": "b"}}}}])
    (call,) = calls(outcome)
    assert call.name == "AddAccountMetadata"
    assert call.request == {"ledger": "main", "account": "users:001", "metadata": {"a": "b"}}
    assert call.idempotency_key == idempotency_key(STACK, INSTANCE, 0, 0)
    activity = [r for r in records(outcome) if r["type"] == "activity.history"]
    assert activity[0]["input"] == {"AddAccountMetadata": call.request}
    assert activity[0]["attempt"] == 1
    assert activity[0]["terminated"] is False


def test_send_between_ledgers_posts_two_transactions_with_positions() -> None:
    outcome = start(
        [
            {"noop": {}},
            {
                "send": {
                    "source": {"account": {"id": "a", "ledger": "l1"}},
                    "destination": {"account": {"id": "b", "ledger": "l2"}},
                    "amount": {"amount": 2**70, "asset": "EUR/2"},
                }
            },
        ]
    )
    (first,) = calls(outcome)
    assert first.request == {
        "Ledger": "l1",
        "Data": {
            "postings": [
                {"amount": 2**70, "asset": "EUR/2", "destination": "world", "source": "a"}
            ],
            "metadata": {"orchestration/move-to-ledger": "l2"},
        },
    }
    assert first.idempotency_key == idempotency_key(STACK, INSTANCE, 1, 0)
    assert outcome.state is not None
    second = step(outcome.state, ActivitySucceeded(first.activity_id, {"data": []}, T0))
    (call,) = calls(second)
    assert call.request["Ledger"] == "l2"
    assert call.request["Data"]["postings"][0]["source"] == "world"
    assert call.request["Data"]["postings"][0]["destination"] == "b"
    assert call.idempotency_key == idempotency_key(STACK, INSTANCE, 1, 1)
    done = next(r for r in records(second) if r["type"] == "activity.history")
    assert done["output"] == {"CreateTransaction": {"data": []}}
    assert done["terminated"] is True


def test_send_without_amount_fails_the_instance() -> None:
    outcome = start(
        [
            {
                "send": {
                    "source": {"account": {"id": "a"}},
                    "destination": {"account": {"id": "b"}},
                }
            }
        ]
    )
    assert terminal(outcome)["error"] == "amount must be specified"


def failing(retryable: bool, **config: Any) -> Outcome:
    return start([{"update": {"account": {"id": "u", "metadata": {}}}}], **config)


def test_retry_repeats_the_same_call_then_fails_when_attempts_are_exhausted() -> None:
    outcome = failing(True, activityMaxAttempts=3)
    (original,) = calls(outcome)
    now = T0
    for attempt in (1, 2):
        assert outcome.state is not None
        outcome = step(outcome.state, ActivityFailed(original.activity_id, "X", "boom", True, now))
        (timer,) = of(outcome, SetTimer)
        assert isinstance(timer, SetTimer)
        assert timer.due == now + timedelta(seconds=2 * attempt)
        pending = records(outcome)[0]
        assert pending["attempt"] == attempt + 1
        assert pending["lastFailure"] == "boom"
        assert outcome.state is not None
        now = timer.due
        outcome = step(outcome.state, TimerFired(timer.timer_id, now))
        (again,) = calls(outcome)
        assert again == original
        assert codec.dumps(again.request) == codec.dumps(original.request)
    assert outcome.state is not None
    last = step(outcome.state, ActivityFailed(original.activity_id, "X", "boom", True, now))
    assert terminal(last)["error"] == "boom"
    assert of(last, SetTimer) == []


def test_non_retryable_failure_fails_stage_and_instance() -> None:
    outcome = failing(False)
    (call,) = calls(outcome)
    assert outcome.state is not None
    failed = step(outcome.state, ActivityFailed(call.activity_id, "VALIDATION", "bad", False, T0))
    assert terminal(failed)["error"] == "bad"
    status = [r for r in records(failed) if r["type"] == "stage.status"]
    assert status[-1]["error"] == "bad"
    activity = [r for r in records(failed) if r["type"] == "activity.history"]
    assert activity[0]["error"] == "bad"
    assert activity[0]["terminated"] is True


def test_delay_until_in_the_past_fails_with_negative_duration() -> None:
    past = "2025-03-04T09:56:57.5Z"  # 3m2.5s before T0
    outcome = start([{"delay": {"until": past}}])
    assert terminal(outcome)["error"] == "negative duration provided -3m2.5s"


def test_zero_delay_completes_at_once() -> None:
    outcome = start([{"delay": {"duration": "0s"}}])
    assert of(outcome, SetTimer) == []
    assert "error" not in terminal(outcome)


def test_stage_that_does_not_resolve_fails_without_history_entry() -> None:
    outcome = start([{"wait_event": {}}])
    error = terminal(outcome)["error"]
    assert "WaitEvent.Event" in error
    assert [r["type"] for r in records(outcome)] == [
        "stage.status",
        "stage.status",
        "instance.terminated",
    ]


def test_abort_during_delay_cancels_the_timer_and_terminates() -> None:
    outcome = start([{"delay": {"duration": "1h"}}, {"noop": {}}])
    (timer,) = of(outcome, SetTimer)
    assert isinstance(timer, SetTimer)
    assert outcome.state is not None
    aborted = step(outcome.state, Abort(T0 + timedelta(seconds=5)))
    assert of(aborted, CancelTimer) == [CancelTimer(timer.timer_id)]
    assert terminal(aborted)["error"] == "canceled"
    history = [r for r in records(aborted) if r["type"] == "stage.history"]
    assert history[0]["error"] == "canceled"
    assert aborted.state is not None
    assert aborted.state.stage == 0
    late = step(aborted.state, TimerFired(timer.timer_id, T0 + timedelta(hours=1)))
    assert late.rejected is not None
    assert late.effects == ()
    assert late.state == aborted.state


def test_abort_with_activity_in_flight_marks_it_cancelled() -> None:
    outcome = failing(True)
    assert outcome.state is not None
    aborted = step(outcome.state, Abort(T0))
    activity = [r for r in records(aborted) if r["type"] == "activity.history"]
    assert activity[0]["error"] == "cancelled"
    assert terminal(aborted)["error"] == "canceled"


def test_inputs_that_no_longer_apply_are_rejected() -> None:
    outcome = failing(True)
    state = outcome.state
    assert state is not None
    command = StartInstance(id="c", instance_id=INSTANCE, workflow_id="w", config={})
    for event in (
        Start(command, STACK, T0),
        ActivitySucceeded("unknown", None, T0),
        TimerFired("unknown", T0),
    ):
        rejected = step(state, event)
        assert rejected.state == state
        assert rejected.effects == ()
        assert rejected.rejected
    assert step(None, Abort(T0)).rejected
    done = step(state, Abort(T0)).state
    assert done is not None
    for late in (EventReceived("go", T0), Abort(T0)):
        outcome = step(done, late)
        assert outcome.rejected
        assert outcome.state == done


def test_replaying_an_input_changes_nothing_the_second_time() -> None:
    outcome = start(
        [{"update": {"account": {"id": "u", "metadata": {}}}}, {"wait_event": {"event": "e"}}]
    )
    (call,) = calls(outcome)
    assert outcome.state is not None
    result = ActivitySucceeded(call.activity_id, None, T0)
    once = step(outcome.state, result)
    assert once.rejected is None
    twice = step(once.state, result)
    assert twice.state == once.state
    assert twice.effects == ()
    assert twice.rejected


def test_state_wire_round_trip_keeps_big_amounts_exact() -> None:
    outcome = start(
        [
            {
                "send": {
                    "source": {"account": {"id": "a"}},
                    "destination": {"account": {"id": "b"}},
                    "amount": {"amount": 2**70, "asset": "EUR/2"},
                }
            }
        ]
    )
    state = outcome.state
    assert state is not None
    back = InstanceState.from_wire(codec.loads(codec.dumps(state.to_wire())))
    assert back == state
    assert back.plan[0].request["Data"]["postings"][0]["amount"] == 2**70
    (call,) = calls(outcome)
    assert step(back, ActivitySucceeded(call.activity_id, None, T0)) == step(
        state, ActivitySucceeded(call.activity_id, None, T0)
    )


def send_stage(source: dict[str, Any], destination: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"source": {"account": source}, "destination": {"account": destination}}
    return {"send": {**body, "amount": {"amount": 1500, "asset": "EUR/2"}, **extra}}


def test_same_ledger_send_is_one_transaction_with_metadata_and_timestamp() -> None:
    stage = send_stage(
        {"id": "a", "allowOverdraft": True, "throughAccount": "t"},
        {"id": "b"},
        metadata={"k": "v"},
        timestamp="2025-01-02T03:04:05Z",
    )
    (call,) = calls(start([stage]))
    assert call.request == {
        "Ledger": "default",
        "Data": {
            "postings": [{"amount": 1500, "asset": "EUR/2", "destination": "b", "source": "a"}],
            "metadata": {"k": "v"},
            "timestamp": "2025-01-02T03:04:05Z",
        },
    }


def test_cross_ledger_overdraft_uses_the_numscript_form() -> None:
    stage = send_stage(
        {"id": "a", "ledger": "l1", "allowOverdraft": True}, {"id": "b", "ledger": "l2"}
    )
    (call,) = calls(start([stage]))
    assert call.request["Data"]["script"] == {
        "plain": "send [EUR/2 1500] (\n  source = @a allowing unbounded overdraft\n"
        "  destination = @world\n)"
    }
    assert "postings" not in call.request["Data"]


def test_send_from_payment_to_payment_fails_with_the_spec_message() -> None:
    stage = {
        "send": {
            "source": {"payment": {"id": "pay1"}},
            "destination": {"payment": {"psp": "stripe"}},
            "amount": {"amount": 1, "asset": "EUR"},
        }
    }
    outcome = start([stage])
    assert terminal(outcome)["error"] == "send from payment to payment is not supported"
    assert calls(outcome) == []


def test_retry_delay_doubles_from_two_seconds_up_to_two_hundred() -> None:
    delays = [retry_delay(n).total_seconds() for n in (1, 2, 3, 7, 8, 9, 2**31)]
    assert delays == [2, 4, 8, 128, 200, 200, 200]


def delay_then(*stages: dict[str, Any]) -> tuple[InstanceState, SetTimer]:
    outcome = start([{"delay": {"duration": "1s"}}, *stages])
    assert outcome.state is not None
    (timer,) = of(outcome, SetTimer)
    assert isinstance(timer, SetTimer)
    return outcome.state, timer


def test_event_posted_before_the_wait_event_stage_completes_it_when_it_starts() -> None:
    state, timer = delay_then({"wait_event": {"event": "go"}})
    early = step(state, EventReceived("go", T0))
    assert early.rejected is None
    assert early.effects == ()
    assert early.state is not None
    assert early.state.early_events == ("go",)
    assert early.state.waiting == "delay"  # the delay is not disturbed
    done = step(early.state, TimerFired(timer.timer_id, timer.due))
    assert "error" not in terminal(done)
    history = [r for r in records(done) if r["type"] == "stage.history"]
    assert [(r["name"], r["terminated"]) for r in history] == [
        ("RunDelay", True),
        ("RunWaitEvent", False),
        ("RunWaitEvent", True),
    ]


def test_buffered_events_are_taken_in_order_one_per_wait_event_stage() -> None:
    state, timer = delay_then(
        {"wait_event": {"event": "a"}},
        {"wait_event": {"event": "b"}},
        {"wait_event": {"event": "c"}},
    )
    for name in ("x", "a", "b", "a"):
        buffered = step(state, EventReceived(name, T0)).state
        assert buffered is not None
        state = buffered
    assert state.early_events == ("x", "a", "b", "a")
    fired = step(state, TimerFired(timer.timer_id, timer.due))
    # "x" is discarded by stage 1 (5.5), "a" completes it, "b" completes
    # stage 2; stage 3 discards the second "a" and waits for "c".
    after = fired.state
    assert after is not None
    assert not after.terminated
    assert (after.stage, after.waiting, after.event) == (3, "event", "c")
    assert after.early_events == ()
    assert step(after, EventReceived("a", T0)).rejected  # discarded while waiting
    assert "error" not in terminal(step(after, EventReceived("c", T0)))


def test_two_events_delivered_together_reach_two_wait_event_stages() -> None:
    # 15 item 15: each event is its own input, processed one by one.
    outcome = start([{"wait_event": {"event": "a"}}, {"wait_event": {"event": "b"}}])
    assert outcome.state is not None
    first = step(outcome.state, EventReceived("a", T0))
    assert first.state is not None
    assert (first.state.stage, first.state.event) == (1, "b")
    assert "error" not in terminal(step(first.state, EventReceived("b", T0)))


def test_the_early_event_buffer_keeps_the_newest_and_counts_the_dropped() -> None:
    state, _ = delay_then({"wait_event": {"event": "e0"}})
    for n in range(EVENT_BUFFER + 3):
        buffered = step(state, EventReceived(f"e{n}", T0)).state
        assert buffered is not None
        state = buffered
    assert len(state.early_events) == EVENT_BUFFER
    assert state.early_events[0] == "e3"
    assert state.early_events_dropped == 3
    assert InstanceState.from_wire(codec.loads(codec.dumps(state.to_wire()))) == state
