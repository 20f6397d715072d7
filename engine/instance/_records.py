"""History records (engine.history) of a stage, its activities and the instance."""

from __future__ import annotations

from typing import Any

from engine.history import ActivityHistory, InstanceTerminated, StageHistory, StageStatus
from engine.instance._state import InstanceState


def stage_status(
    state: InstanceState, terminated_at: str | None = None, error: str | None = None
) -> StageStatus:
    record: StageStatus = {
        "type": "stage.status",
        "instanceID": state.instance_id,
        "stage": state.stage,
        "runID": state.run_id,
        "startedAt": state.stage_started_at,
    }
    if terminated_at is not None:
        record["terminatedAt"] = terminated_at
    if error:
        record["error"] = error
    return record


def stage_history(
    state: InstanceState, terminated_at: str | None = None, error: str | None = None
) -> StageHistory:
    assert state.stage_name is not None
    assert state.stage_input is not None
    record: StageHistory = {
        "type": "stage.history",
        "instanceID": state.instance_id,
        "stage": state.stage,
        "name": state.stage_name,
        "input": state.stage_input,
        "startedAt": state.stage_started_at,
        "terminated": terminated_at is not None,
    }
    if terminated_at is not None:
        record["terminatedAt"] = terminated_at
    if error:
        record["error"] = error
    return record


def activity_history(
    state: InstanceState,
    *,
    output: dict[str, Any] | None = None,
    terminated_at: str | None = None,
    error: str | None = None,
    last_failure: str | None = None,
    next_execution: str | None = None,
) -> ActivityHistory:
    call = state.plan[state.position]
    record: ActivityHistory = {
        "type": "activity.history",
        "instanceID": state.instance_id,
        "stage": state.stage,
        "position": state.position,
        "name": call.name,
        "input": {call.name: call.request},
        "terminated": terminated_at is not None,
        "startedAt": state.activity_started_at,
        "attempt": state.attempt,
    }
    if output is not None:
        record["output"] = {call.name: output}
    if error:
        record["error"] = error
    if terminated_at is not None:
        record["terminatedAt"] = terminated_at
    if last_failure is not None:
        record["lastFailure"] = last_failure
    if next_execution is not None:
        record["nextExecution"] = next_execution
    if state.paused_at is not None:
        # On hold (14.4): no nextExecution; what the resume endpoint needs.
        record["paused"] = True
        record["pausedAt"] = state.paused_at
        record["pauseReason"] = state.pause_reason or ""
        record["maxAttempts"] = state.max_attempts
        if state.last_failure_type:
            record["lastFailureType"] = state.last_failure_type
    return record


def instance_terminated(
    state: InstanceState, terminated_at: str, error: str | None
) -> InstanceTerminated:
    record: InstanceTerminated = {
        "type": "instance.terminated",
        "instanceID": state.instance_id,
        "terminatedAt": terminated_at,
    }
    if error:
        record["error"] = error
    return record
