"""Replay equals processing (fixed seeds).

The runtime keeps an instance as the latest state in a compacted changelog and
rebuilds it from there after a crash, then goes on with the commands that
follow. For that to be correct, three things must hold for any run, and this
property test drives random runs (random workflows, random answers, late and
duplicated inputs, aborts, crashes) to check them:

1. determinism: the same inputs from the same start give the same states and
   effects (no clock, no randomness inside);
2. a state read back from its wire form (what a new owner restores) behaves
   exactly as the one in memory for every later input;
3. an input the machine rejects (a duplicate, a stale result or timer)
   changes nothing.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.commands import StartInstance
from engine.instance import (
    Abort,
    ActivityFailed,
    ActivitySucceeded,
    CallActivity,
    EventReceived,
    Input,
    InstanceState,
    Outcome,
    Recover,
    SetTimer,
    Start,
    TimerFired,
    step,
)
from streams import codec

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)

STAGES: list[dict[str, Any]] = [
    {"delay": {"duration": "5s"}},
    {"wait_event": {"event": "go"}},
    {"update": {"account": {"id": "users:1", "metadata": {"k": "v"}}}},
    {
        "send": {
            "source": {"account": {"id": "world"}},
            "destination": {"account": {"id": "users:2"}},
            "amount": {"amount": 2**70 + 1, "asset": "EUR/2"},
        }
    },
    {"send": {"source": {"account": {"id": "a"}}, "destination": {"account": {"id": "b"}}}},
    {"noop": {}},
]


def _wire(state: InstanceState | None) -> InstanceState | None:
    if state is None:
        return None
    return InstanceState.from_wire(codec.loads(codec.dumps(state.to_wire())))


def _same(a: Outcome, b: Outcome) -> bool:
    return (
        a.rejected == b.rejected
        and a.effects == b.effects
        and codec.dumps(None if a.state is None else a.state.to_wire())
        == codec.dumps(None if b.state is None else b.state.to_wire())
    )


def _run(seed: int, stages: list[dict[str, Any]]) -> list[Input]:
    """A random but plausible input log: answers to what the machine asked
    for, plus noise (duplicates, stale timers and results, events, aborts)."""
    draw = random.Random(seed)
    command = StartInstance(
        id="run1", instance_id="i1", workflow_id="w1", config={"name": "w", "stages": stages}
    )
    now = T0
    inputs: list[Input] = [Start(command, "s1", now)]
    outcome = step(None, inputs[0])
    seen: list[Input] = []
    for _ in range(40):
        if outcome.state is None or outcome.state.terminated:
            break
        now += timedelta(seconds=draw.randint(1, 300))
        calls = [e for e in outcome.effects if isinstance(e, CallActivity)]
        timers = [e for e in outcome.effects if isinstance(e, SetTimer)]
        choice = draw.random()
        event: Input
        if calls and choice < 0.5:
            call = calls[0]
            if draw.random() < 0.7:
                event = ActivitySucceeded(call.activity_id, {"id": draw.randint(0, 9)}, now)
            else:
                event = ActivityFailed(
                    call.activity_id, "INTERNAL", "boom", draw.random() < 0.8, now
                )
        elif timers and choice < 0.6:
            event = TimerFired(timers[0].timer_id, max(now, timers[0].due))
        elif choice < 0.7 and seen:
            event = draw.choice(seen)  # a redelivered input
        elif choice < 0.8:
            event = EventReceived(draw.choice(["go", "stop"]), now)
        elif choice < 0.85:
            event = Abort(now)
        elif choice < 0.95:
            event = Recover(now)
        else:
            event = TimerFired("i1:9:delay", now)  # a timer that is not pending
        inputs.append(event)
        seen.append(event)
        result = step(outcome.state, event)
        if result.rejected is None:
            outcome = result
    return inputs


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    stages=st.lists(st.sampled_from(STAGES), min_size=1, max_size=5),
    crash_at=st.integers(0, 40),
)
def test_restoring_from_the_wire_at_any_point_gives_the_same_run(
    seed: int, stages: list[dict[str, Any]], crash_at: int
) -> None:
    inputs = _run(seed, stages)
    memory: InstanceState | None = None
    restored: InstanceState | None = None
    again: InstanceState | None = None
    for n, event in enumerate(inputs):
        if n == crash_at:
            restored = _wire(restored)  # the new owner reads the changelog
        first = step(memory, event)
        replay = step(again, event)
        after_restore = step(restored, event)
        assert _same(first, replay), f"not deterministic at input {n}: {event}"
        assert _same(first, after_restore), f"restored state differs at input {n}: {event}"
        if first.rejected is not None:
            # A rejected input changes nothing.
            assert first.state == memory
            assert first.effects == ()
            continue
        memory, again, restored = first.state, replay.state, after_restore.state
        # Every state survives its wire form unchanged.
        assert _wire(memory) == memory
