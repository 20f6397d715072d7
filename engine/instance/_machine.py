"""``step``: one input applied to an instance, giving its next state and the effects to run.

Pure: no I/O, no clock (every input carries ``now``), no randomness (ids of
activities and timers derive from the instance id, stage and position), so a
replayed input log rebuilds the same state and the same effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.activities import MUTATING, idempotency_key
from engine.config import (
    DEFAULT_ACTIVITY_MAX_ATTEMPTS,
    Delay,
    Noop,
    ResolvedStage,
    Send,
    StageError,
    Update,
    WaitEvent,
    format_date,
    format_duration,
    resolve_stage,
)
from engine.instance import _records as records
from engine.instance._effects import (
    CallActivity,
    CancelTimer,
    Effect,
    EmitHistory,
    SetTimer,
    Terminated,
)
from engine.instance._inputs import (
    Abort,
    ActivityFailed,
    ActivitySucceeded,
    EventReceived,
    Input,
    Recover,
    Resume,
    Start,
    TimerFired,
)
from engine.instance._plans import next_call
from engine.instance._run import PlanError
from engine.instance._send_plan import stage_failure, tolerates_conflict
from engine.instance._state import EVENT_BUFFER, InstanceState, PlannedCall

CANCELED_STAGE = "canceled"  # 4.5 and 8.5 spell it with one l ...
CANCELLED_ACTIVITY = "cancelled"  # ... and 4.6 with two.

# 14.4: under pause mode an underfunded transfer is held, not failed.
INSUFFICIENT_FUND = "INSUFFICIENT_FUND"
PSP_TRANSFERS = frozenset({"CreateTransferInitiation", "StripeTransfer"})

# BEHAVIOUR 14.2: first retry after 2 s, doubling, capped at 200 s.
RETRY_FIRST = timedelta(seconds=2)
RETRY_CAP = timedelta(seconds=200)


@dataclass(frozen=True, slots=True)
class Outcome:
    state: InstanceState | None
    effects: tuple[Effect, ...]
    rejected: str | None = None


def retry_delay(failed_attempts: int) -> timedelta:
    """Wait before the next attempt after ``failed_attempts`` failures (>= 1)."""
    doublings = min(failed_attempts - 1, 8)  # 2 s * 2^7 already exceeds the cap
    delay: timedelta = RETRY_FIRST * (2**doublings)
    return min(delay, RETRY_CAP)


def step(state: InstanceState | None, event: Input) -> Outcome:
    if isinstance(event, Start):
        if state is not None:
            return _reject(state, "instance already started")
        return _start(event)
    if state is None:
        return _reject(state, "instance not started")
    if state.terminated:
        return _reject(state, "instance terminated")
    effects: list[Effect] = []
    if isinstance(event, Recover):
        return _recover(state, effects)
    match event:
        case ActivitySucceeded() | ActivityFailed():
            if state.waiting != "activity" or event.activity_id != state.activity_id:
                return _reject(state, f"no activity {event.activity_id!r} in flight")
            if isinstance(event, ActivitySucceeded):
                state = _succeeded(state, event, effects)
            else:
                state = _failed(state, event, effects)
        case TimerFired():
            if state.timer_id is None or event.timer_id != state.timer_id:
                return _reject(state, f"no timer {event.timer_id!r} pending")
            if state.waiting == "retry":
                state = _attempt(state.evolve(timer_id=None, timer_due=None), effects)
            else:
                state = _finish_stage(
                    state.evolve(timer_id=None, timer_due=None), event.now, effects
                )
        case EventReceived():
            if state.waiting != "event":
                # Kept for the next wait_event stage (15 item 17, [CHOICE]).
                return Outcome(_buffer(state, event.name), ())
            if event.name != state.event:
                # 5.5: a non-matching event is consumed and discarded.
                return _reject(state, f"event {event.name!r} is not {state.event!r}")
            state = _finish_stage(state, event.now, effects)
        case Resume():
            if state.waiting != "paused" or event.activity_id != state.activity_id:
                return _reject(state, f"no activity {event.activity_id!r} on hold")
            if not _same_time(event.paused_at, state.paused_at):
                return _reject(state, f"activity {event.activity_id!r} paused again since")
            state = _resume(state, effects)
        case Abort():
            state = _abort(state, event.now, effects)
    return Outcome(_advance(state, event.now, effects), tuple(effects))


def _reject(state: InstanceState | None, reason: str) -> Outcome:
    return Outcome(state, (), reason)


def _start(event: Start) -> Outcome:
    command = event.command
    config = command.config
    attempts = config.get("activityMaxAttempts")
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        attempts = DEFAULT_ACTIVITY_MAX_ATTEMPTS
    stages = config.get("stages") or []
    state = InstanceState(
        instance_id=command.instance_id,
        workflow_id=command.workflow_id,
        stack=event.stack,
        run_id=command.id,
        stages=tuple(stages),
        variables=dict(command.variables),
        max_attempts=attempts,
        pause_activities=event.pause_activities,
    )
    effects: list[Effect] = []
    return Outcome(_advance(state, event.now, effects), tuple(effects))


def _advance(state: InstanceState, now: datetime, effects: list[Effect]) -> InstanceState:
    """Run stages until one waits or the instance terminates (8.2)."""
    while not state.terminated and state.waiting is None:
        if state.stage >= len(state.stages):
            state = _terminate(state, now, None, effects)
        else:
            state = _start_stage(state, now, effects)
    return state


def _start_stage(state: InstanceState, now: datetime, effects: list[Effect]) -> InstanceState:
    state = state.evolve(
        stage_started_at=format_date(now),
        stage_name=None,
        stage_input=None,
        plan=(),
        outputs=(),
        position=0,
        attempt=0,
        activity_id=None,
        event=None,
    )
    effects.append(EmitHistory(records.stage_status(state)))
    try:
        resolved = resolve_stage(state.stages[state.stage], state.variables)
    except StageError as exc:
        # 4.5: a stage that does not resolve never starts: no history entry.
        return _finish_stage(state, now, effects, str(exc))
    state = state.evolve(stage_name=resolved.history_name, stage_input=resolved.history_input())
    effects.append(EmitHistory(records.stage_history(state)))
    return _execute(state, resolved, now, effects)


def _execute(
    state: InstanceState, stage: ResolvedStage, now: datetime, effects: list[Effect]
) -> InstanceState:
    match stage:
        case Noop():
            return _finish_stage(state, now, effects)
        case Delay():
            return _delay(state, stage, now, effects)
        case WaitEvent():
            return _wait_event(state, stage, now, effects)
        case Update() | Send():
            return _next(state, stage, now, effects)
    return _finish_stage(state, now, effects, f"unsupported stage {stage.stage_name}")


def _buffer(state: InstanceState, name: str) -> InstanceState:
    events = (*state.early_events, name)
    dropped = max(len(events) - EVENT_BUFFER, 0)
    return state.evolve(
        early_events=events[dropped:],
        early_events_dropped=state.early_events_dropped + dropped,
    )


def _wait_event(
    state: InstanceState, stage: WaitEvent, now: datetime, effects: list[Effect]
) -> InstanceState:
    """Wait, unless an early event completes the stage at once.

    The buffered events reach the stage one by one, in arrival order, as if
    posted now (5.5): those before the first match are consumed and
    discarded, the match completes the stage, the rest stay for a later stage.
    """
    events = state.early_events
    if stage.event in events:
        rest = events[events.index(stage.event) + 1 :]
        return _finish_stage(state.evolve(early_events=rest), now, effects)
    return state.evolve(waiting="event", event=stage.event, early_events=())


def _delay(
    state: InstanceState, stage: Delay, now: datetime, effects: list[Effect]
) -> InstanceState:
    if stage.until is not None:
        due = stage.until
        wait_ns = ((due - now) // timedelta(microseconds=1)) * 1000
    else:
        wait_ns = stage.duration_ns or 0
        due = now + (stage.duration or timedelta(0))
    if wait_ns < 0:
        return _finish_stage(
            state, now, effects, f"negative duration provided {format_duration(wait_ns)}"
        )
    if due <= now:
        return _finish_stage(state, now, effects)  # a zero duration completes at once
    timer_id = f"{state.instance_id}:{state.stage}:delay"
    effects.append(SetTimer(timer_id, due))
    return state.evolve(waiting="delay", timer_id=timer_id, timer_due=due.isoformat())


def _next(
    state: InstanceState, stage: ResolvedStage, now: datetime, effects: list[Effect]
) -> InstanceState:
    """Call the stage's next activity, derived from the outputs so far, or finish it."""
    instance, number, stack = state.instance_id, state.stage, state.stack
    try:
        call = next_call(
            stage, state.outputs, lambda at: idempotency_key(stack, instance, number, at)
        )
    except PlanError as exc:
        return _finish_stage(state, now, effects, str(exc))
    if call is None:
        return _finish_stage(state, now, effects)
    return _call(state.evolve(plan=(*state.plan, call)), len(state.outputs), now, effects)


def _current(state: InstanceState) -> ResolvedStage:
    # Resolution is pure and the variables do not change within a stage, so
    # this is the stage that started.
    return resolve_stage(state.stages[state.stage], state.variables)


def _call(
    state: InstanceState, position: int, now: datetime, effects: list[Effect]
) -> InstanceState:
    state = state.evolve(
        position=position,
        attempt=1,
        activity_id=f"{state.instance_id}:{state.stage}:{position}",
        activity_started_at=format_date(now),
    )
    state = _unhold(state)
    effects.append(EmitHistory(records.activity_history(state)))
    return _attempt(state, effects)


def _attempt(state: InstanceState, effects: list[Effect]) -> InstanceState:
    """Ask for one attempt of the current activity; every attempt is the same call."""
    call: PlannedCall = state.plan[state.position]
    assert state.activity_id is not None
    key = (
        idempotency_key(state.stack, state.instance_id, state.stage, state.position)
        if call.name in MUTATING
        else None
    )
    effects.append(CallActivity(state.activity_id, call.name, call.request, key))
    return state.evolve(waiting="activity")


def _succeeded(
    state: InstanceState, event: ActivitySucceeded, effects: list[Effect]
) -> InstanceState:
    now = format_date(event.now)
    effects.append(
        EmitHistory(records.activity_history(state, output=event.output, terminated_at=now))
    )
    state = state.evolve(outputs=(*state.outputs, event.output))
    return _next(state, _current(state), event.now, effects)


def _failed(state: InstanceState, event: ActivityFailed, effects: list[Effect]) -> InstanceState:
    if event.code == "CONFLICT" and _conflict_tolerated(state):
        # The payment was ingested before (its reference is taken): the
        # failure stays in the activity's history and the stage goes on.
        effects.append(
            EmitHistory(
                records.activity_history(
                    state, error=event.message, terminated_at=format_date(event.now)
                )
            )
        )
        state = state.evolve(outputs=(*state.outputs, None))
        return _next(state, _current(state), event.now, effects)
    retryable = event.retryable
    if event.code == INSUFFICIENT_FUND:
        # 14.2: terminal for ledger, wallet and payment calls (retrying an
        # underfunded transfer for half an hour would move money long after
        # the event), retryable for a PSP transfer initiation; 14.4: held
        # under pause mode.
        retryable = state.pause_activities or state.plan[state.position].name in PSP_TRANSFERS
    if retryable and state.attempt < state.max_attempts:
        due = event.now + retry_delay(state.attempt)
        timer_id = f"{state.activity_id}:retry:{state.attempt}"
        state = state.evolve(
            attempt=state.attempt + 1,
            waiting="retry",
            timer_id=timer_id,
            timer_due=due.isoformat(),
        )
        effects.append(
            EmitHistory(
                records.activity_history(
                    state, last_failure=event.message, next_execution=format_date(due)
                )
            )
        )
        effects.append(SetTimer(timer_id, due))
        return state
    if retryable and state.pause_activities:
        return _hold(state, event, effects)
    effects.append(
        EmitHistory(
            records.activity_history(
                state, error=event.message, terminated_at=format_date(event.now)
            )
        )
    )
    call = state.plan[state.position]
    return _finish_stage(
        state, event.now, effects, stage_failure(call.name, call.request, event.message)
    )


def _hold(state: InstanceState, event: ActivityFailed, effects: list[Effect]) -> InstanceState:
    """Put the activity on hold (14.4): the stage and instance stay unfinished
    until an ``instance.resume`` releases it."""
    state = state.evolve(
        waiting="paused",
        paused_at=format_date(event.now),
        pause_reason=f"ACTIVITY_ATTEMPT_LIMIT:{state.max_attempts}",
        last_failure=event.message,
        last_failure_type=event.code or None,
    )
    effects.append(EmitHistory(records.activity_history(state, last_failure=event.message)))
    return state


def _resume(state: InstanceState, effects: list[Effect]) -> InstanceState:
    """The held activity again, attempt counter reset: the same call and key."""
    state = _unhold(state.evolve(attempt=1))
    effects.append(EmitHistory(records.activity_history(state)))
    return _attempt(state, effects)


def _unhold(state: InstanceState) -> InstanceState:
    return state.evolve(
        paused_at=None, pause_reason=None, last_failure=None, last_failure_type=None
    )


def _same_time(observed: str, held: str | None) -> bool:
    if held is None:
        return False
    try:
        return datetime.fromisoformat(observed) == datetime.fromisoformat(held)
    except ValueError:
        return False


def _conflict_tolerated(state: InstanceState) -> bool:
    stage = _current(state)
    return isinstance(stage, Send) and tolerates_conflict(stage, state.position)


def _recover(state: InstanceState, effects: list[Effect]) -> Outcome:
    """Re-arm a taken-over instance: its timer, or its in-flight activity.

    The activity may have reached the stack before the old owner died, so it is
    sent again, byte-identical with the same idempotency key, as a new attempt
    (the stage history shows both). It counts as an attempt, so a worker that
    crashes on every call still ends at ``activityMaxAttempts``.
    """
    if state.waiting in ("delay", "retry") and state.timer_id and state.timer_due:
        due = datetime.fromisoformat(state.timer_due)
        return Outcome(state, (SetTimer(state.timer_id, due),))
    if state.waiting == "activity":
        state = state.evolve(attempt=state.attempt + 1)
        effects.append(EmitHistory(records.activity_history(state)))
        return Outcome(_attempt(state, effects), tuple(effects))
    return Outcome(state, ())


def _abort(state: InstanceState, now: datetime, effects: list[Effect]) -> InstanceState:
    if state.timer_id is not None:
        effects.append(CancelTimer(state.timer_id))
    if state.waiting in ("activity", "retry", "paused"):
        state = _unhold(state)
        effects.append(
            EmitHistory(
                records.activity_history(
                    state, error=CANCELLED_ACTIVITY, terminated_at=format_date(now)
                )
            )
        )
    return _finish_stage(state.evolve(timer_id=None, timer_due=None), now, effects, CANCELED_STAGE)


def _finish_stage(
    state: InstanceState, now: datetime, effects: list[Effect], error: str | None = None
) -> InstanceState:
    """Close the current stage (8.2 steps 4-6); a failure ends the instance."""
    at = format_date(now)
    if state.stage_name is not None:
        effects.append(EmitHistory(records.stage_history(state, at, error)))
    effects.append(EmitHistory(records.stage_status(state, at, error)))
    state = state.evolve(waiting=None, event=None, timer_id=None, timer_due=None, activity_id=None)
    if error is not None:
        return _terminate(state, now, error, effects)
    return state.evolve(stage=state.stage + 1)


def _terminate(
    state: InstanceState, now: datetime, error: str | None, effects: list[Effect]
) -> InstanceState:
    effects.append(EmitHistory(records.instance_terminated(state, format_date(now), error)))
    effects.append(Terminated())
    return state.evolve(terminated=True, waiting=None, error=error)
