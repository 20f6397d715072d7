"""Pause mode (BEHAVIOUR 14.4): a retryable activity out of attempts is held, then resumed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.commands import StartInstance
from engine.instance import (
    Abort,
    ActivityFailed,
    ActivitySucceeded,
    CallActivity,
    EmitHistory,
    EventReceived,
    InstanceState,
    Outcome,
    Recover,
    Resume,
    SetTimer,
    Start,
    TimerFired,
    step,
)
from streams import codec

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)
DEBIT = {"update": {"account": {"id": "u", "metadata": {}}}}


def start(*, pause: bool, attempts: int = 2) -> Outcome:
    command = StartInstance(
        id="cmd1",
        instance_id="inst1",
        workflow_id="wf1",
        config={"name": "w", "stages": [DEBIT], "activityMaxAttempts": attempts},
    )
    return step(None, Start(command, "s1", T0, pause_activities=pause))


def calls(outcome: Outcome) -> list[CallActivity]:
    return [e for e in outcome.effects if isinstance(e, CallActivity)]


def activity_records(outcome: Outcome) -> list[dict[str, Any]]:
    return [
        dict(e.record)
        for e in outcome.effects
        if isinstance(e, EmitHistory) and e.record["type"] == "activity.history"
    ]


def exhaust(outcome: Outcome, code: str, retryable: bool) -> tuple[Outcome, CallActivity]:
    """Fail every attempt of the budget (2) with `code`."""
    (call,) = calls(outcome)
    now = T0
    for _ in range(10):
        assert outcome.state is not None
        outcome = step(outcome.state, ActivityFailed(call.activity_id, code, "no", retryable, now))
        timers = [e for e in outcome.effects if isinstance(e, SetTimer)]
        if not timers:
            return outcome, call
        now = timers[0].due
        outcome = step(outcome.state, TimerFired(timers[0].timer_id, now))
    raise AssertionError("never stopped retrying")


def held(outcome: Outcome) -> InstanceState:
    state = outcome.state
    assert state is not None
    assert state.waiting == "paused"
    assert not state.terminated
    return state


def test_without_pause_mode_the_last_failure_fails_the_instance() -> None:
    outcome, _ = exhaust(start(pause=False), "NOT_FOUND", True)
    assert outcome.state is not None
    assert outcome.state.terminated
    assert outcome.state.error == "no"


def test_a_retryable_activity_out_of_attempts_is_held_not_failed() -> None:
    outcome, _ = exhaust(start(pause=True), "NOT_FOUND", True)
    state = held(outcome)
    (record,) = activity_records(outcome)
    assert record["paused"] is True
    assert record["pauseReason"] == "ACTIVITY_ATTEMPT_LIMIT:2"
    assert record["maxAttempts"] == 2
    assert record["lastFailure"] == "no"
    assert record["lastFailureType"] == "NOT_FOUND"
    assert record["attempt"] == 2
    assert record["pausedAt"] == state.paused_at
    assert "nextExecution" not in record
    assert record["terminated"] is False
    # No stage or instance record: both stay unfinished.
    assert [e.record["type"] for e in outcome.effects if isinstance(e, EmitHistory)] == [
        "activity.history"
    ]
    # Nothing to re-arm for a new owner; the hold survives the changelog.
    assert step(state, Recover(T0)).effects == ()
    assert InstanceState.from_wire(codec.loads(codec.dumps(state.to_wire()))) == state


def test_insufficient_fund_is_held_under_pause_mode_even_when_reported_terminal() -> None:
    outcome, _ = exhaust(start(pause=True), "INSUFFICIENT_FUND", False)
    held(outcome)


def test_validation_still_fails_the_stage_at_once_under_pause_mode() -> None:
    outcome = start(pause=True)
    (call,) = calls(outcome)
    assert outcome.state is not None
    failed = step(outcome.state, ActivityFailed(call.activity_id, "VALIDATION", "bad", False, T0))
    assert failed.state is not None
    assert failed.state.terminated
    assert failed.state.error == "bad"


def test_resume_repeats_the_same_call_with_the_attempt_counter_reset() -> None:
    outcome, call = exhaust(start(pause=True), "NOT_FOUND", True)
    state = held(outcome)
    assert state.paused_at is not None
    later = T0 + timedelta(hours=1)
    resumed = step(state, Resume(call.activity_id, state.paused_at, later))
    assert resumed.rejected is None
    assert calls(resumed) == [call]  # same id, request and idempotency key
    (record,) = activity_records(resumed)
    assert record["attempt"] == 1
    assert "paused" not in record
    assert resumed.state is not None
    assert resumed.state.waiting == "activity"
    assert resumed.state.paused_at is None
    # The fresh budget applies again: two more attempts, then a new hold.
    again, _ = exhaust(resumed, "NOT_FOUND", True)
    assert held(again).paused_at is not None
    done = step(resumed.state, ActivitySucceeded(call.activity_id, None, later))
    assert done.state is not None
    assert done.state.terminated
    assert done.state.error is None


def test_a_second_resume_or_a_stale_pause_time_is_rejected() -> None:
    outcome, call = exhaust(start(pause=True), "NOT_FOUND", True)
    state = held(outcome)
    assert state.paused_at is not None
    stale = step(state, Resume(call.activity_id, "2020-01-01T00:00:00Z", T0))
    assert stale.rejected
    assert stale.state == state
    assert step(state, Resume("inst1:0:9", state.paused_at, T0)).rejected
    # The same time written another way (RFC 3339 offset) is the same pause.
    same = datetime.fromisoformat(state.paused_at).isoformat()
    first = step(state, Resume(call.activity_id, same, T0))
    assert first.rejected is None
    second = step(first.state, Resume(call.activity_id, state.paused_at, T0))
    assert second.rejected
    assert second.effects == ()


def test_abort_of_a_held_activity_cancels_it_and_ends_the_instance() -> None:
    outcome, _ = exhaust(start(pause=True), "NOT_FOUND", True)
    state = held(outcome)
    buffered = step(state, EventReceived("go", T0)).state  # kept, the hold stays
    assert buffered is not None
    assert buffered.waiting == "paused"
    aborted = step(buffered, Abort(T0))
    (record,) = activity_records(aborted)
    assert record["error"] == "cancelled"
    assert "paused" not in record
    assert aborted.state is not None
    assert aborted.state.error == "canceled"


def test_insufficient_funds_end_a_ledger_call_at_once_without_pause_mode() -> None:
    # 14.2: an underfunded ledger, wallet or payment call is not retried
    # (the client reports the code; the bounded policy makes it terminal).
    outcome = start(pause=False, attempts=5)
    (call,) = calls(outcome)
    assert outcome.state is not None
    failed = step(
        outcome.state,
        ActivityFailed(call.activity_id, "INSUFFICIENT_FUND", "not enough", True, T0),
    )
    assert [e for e in failed.effects if isinstance(e, SetTimer)] == []
    assert failed.state is not None
    assert failed.state.terminated
    assert failed.state.error == "not enough"
