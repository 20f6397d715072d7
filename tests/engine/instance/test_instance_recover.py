"""Recover: what a new owner (after a restart or a rebalance) re-arms from a restored state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.instance import (
    ActivityFailed,
    ActivitySucceeded,
    CallActivity,
    InstanceState,
    Recover,
    SetTimer,
    TimerFired,
    step,
)
from streams import codec
from tests.engine.instance.test_instance_machine import T0, calls, of, records, start

pytestmark = pytest.mark.unit

LATER = T0 + timedelta(minutes=5)
SEND = {
    "send": {
        "source": {"account": {"id": "world"}},
        "destination": {"account": {"id": "users:1"}},
        "amount": {"amount": 2**70 + 7, "asset": "EUR/2"},
    }
}


def restored(state: InstanceState | None) -> InstanceState:
    """The state as a new owner reads it back from the changelog."""
    assert state is not None
    return InstanceState.from_wire(codec.loads(codec.dumps(state.to_wire())))


def test_a_restored_delay_is_re_armed_at_its_recorded_due_time() -> None:
    outcome = start([{"delay": {"duration": "1h"}}])
    (timer,) = of(outcome, SetTimer)
    recovered = step(restored(outcome.state), Recover(LATER))
    assert recovered.effects == (timer,)  # same id, same due time: not now + 1 h
    assert recovered.state == restored(outcome.state)
    assert isinstance(timer, SetTimer)
    fired = step(recovered.state, TimerFired(timer.timer_id, timer.due))
    assert fired.state is not None
    assert fired.state.terminated


def test_a_restored_retry_back_off_is_re_armed() -> None:
    outcome = start([{"update": {"account": {"id": "u", "metadata": {"k": "v"}}}}])
    (call,) = calls(outcome)
    assert outcome.state is not None
    waiting = step(outcome.state, ActivityFailed(call.activity_id, "X", "boom", True, T0))
    (timer,) = of(waiting, SetTimer)
    recovered = step(restored(waiting.state), Recover(LATER))
    assert recovered.effects == (timer,)
    assert isinstance(timer, SetTimer)
    again = step(recovered.state, TimerFired(timer.timer_id, LATER))
    assert calls(again) == [call]


def test_an_in_flight_activity_is_re_sent_byte_identical_as_a_new_attempt() -> None:
    outcome = start([SEND])
    (call,) = calls(outcome)
    assert call.idempotency_key is not None
    recovered = step(restored(outcome.state), Recover(LATER))
    (again,) = calls(recovered)
    assert again.activity_id == call.activity_id
    assert again.idempotency_key == call.idempotency_key
    assert codec.dumps(again.request) == codec.dumps(call.request)
    assert b"1180591620717411303431" in codec.dumps(again.request)
    # Recorded before it is called: the state and the stage history show attempt 2.
    assert recovered.state is not None
    assert recovered.state.attempt == 2
    assert [r["attempt"] for r in records(recovered)] == [2]
    done = step(recovered.state, ActivitySucceeded(call.activity_id, {"id": 1}, LATER))
    assert done.state is not None
    assert done.state.terminated


def test_nothing_is_re_armed_for_an_instance_waiting_for_an_event() -> None:
    outcome = start([{"wait_event": {"event": "go"}}])
    recovered = step(restored(outcome.state), Recover(LATER))
    assert recovered.effects == ()
    assert recovered.rejected is None


def test_a_terminated_instance_is_not_recovered() -> None:
    outcome = start([{"delay": {"duration": "0s"}}])
    assert outcome.state is not None
    assert outcome.state.terminated
    assert step(outcome.state, Recover(LATER)).rejected == "instance terminated"


def test_a_crash_on_every_call_still_ends_at_the_attempt_limit() -> None:
    outcome = start([SEND], activityMaxAttempts=2)
    state = restored(step(restored(outcome.state), Recover(LATER)).state)
    (call,) = [e for e in step(state, Recover(LATER)).effects if isinstance(e, CallActivity)]
    failed = step(state, ActivityFailed(call.activity_id, "X", "boom", True, LATER))
    assert failed.state is not None
    assert failed.state.terminated
    assert failed.state.error == "boom"
