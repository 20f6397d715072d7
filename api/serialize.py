"""Database rows to the upstream JSON shapes (section 4 of the behaviour spec)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from streams import format_time

_ZERO = dt.timedelta(0)


def _time(value: dt.datetime | None) -> str | None:
    """`streams.format_time`, faster on the rows Postgres returns (UTC, aware):
    a list answer formats ~80 timestamps, so this is on the hot path."""
    if value is None:
        return None
    if value.utcoffset() != _ZERO:
        return format_time(value)
    text = value.isoformat()[:-6]  # drop "+00:00"
    if value.microsecond:
        text = text.rstrip("0")
    return text + "Z"


def workflow_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    config = dict(row["config"])
    # `"name": null` decodes to "" upstream (a Go string); echo it that way.
    if not isinstance(config.get("name"), str):
        config["name"] = ""
    # Upstream echoes `null` for a configuration without stages; the OpenAPI
    # schema (and the generated SDKs) require an array, so it is `[]` here.
    if config.get("stages") is None:
        config["stages"] = []
    return {
        "id": row["id"],
        "config": config,
        "createdAt": _time(row["created_at"]),
        "updatedAt": _time(row["updated_at"]),
        "deletedAt": _time(row["deleted_at"]),
    }


def trigger_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": row["name"] or "", "event": row["event"]}
    if row["version"] is not None:
        out["version"] = row["version"]
    if row["filter"]:
        out["filter"] = row["filter"]
    out["workflowID"] = row["workflow_id"]
    out["workflow"] = None
    if row["vars"]:
        out["vars"] = row["vars"]
    out["id"] = row["id"]
    out["createdAt"] = _time(row["created_at"])
    return out


def instance_json(
    row: Mapping[Any, Any],
    *,
    workflow: Mapping[Any, Any] | None = None,
    statuses: Sequence[Mapping[Any, Any]] | None = None,
    workflow_json_: dict[str, Any] | None = None,
    paused: Sequence[Mapping[Any, Any]] = (),
) -> dict[str, Any]:
    """`workflow` is embedded as a row, or `workflow_json_` as already serialised;
    `paused` activity rows show as their unfinished stage's `pendingActivities`."""
    out: dict[str, Any] = {"workflowID": row["workflow_id"]}
    if workflow_json_ is not None:
        out["workflow"] = workflow_json_
    elif workflow is not None:
        out["workflow"] = workflow_json(workflow)
    out["id"] = row["id"]
    out["createdAt"] = _time(row["created_at"])
    out["updatedAt"] = _time(row["updated_at"])
    out["terminated"] = bool(row["terminated"])
    if row["terminated_at"] is not None:
        out["terminatedAt"] = _time(row["terminated_at"])
    if statuses:
        out["status"] = [stage_status_json(s, paused) for s in statuses]
    if row["error"]:
        out["error"] = row["error"]
    return out


def stage_status_json(
    row: Mapping[Any, Any], paused: Sequence[Mapping[Any, Any]] = ()
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stage": row["stage"],
        "instanceID": row["instance_id"],
        "temporalRunID": row["temporal_run_id"],
        "startedAt": _time(row["started_at"]),
    }
    if row["terminated_at"] is not None:
        out["terminatedAt"] = _time(row["terminated_at"])
    if row["error"]:
        out["error"] = row["error"]
    if row["terminated_at"] is None:
        pending = [
            pending_activity_json(a, row["temporal_run_id"])
            for a in paused
            if a["stage"] == row["stage"]
        ]
        if pending:
            out["pendingActivities"] = pending
    return out


def activity_id(row: Mapping[Any, Any]) -> str:
    """The engine's activity id, `<instance>:<stage>:<position>`."""
    return f"{row['instance_id']}:{row['stage']}:{row['position']}"


def pending_activity_json(row: Mapping[Any, Any], run_id: str) -> dict[str, Any]:
    """An activity on hold (BEHAVIOUR 14.4): what a resume request sends back."""
    out: dict[str, Any] = {
        "activityID": activity_id(row),
        "temporalRunID": run_id,
        "name": row["name"],
        "attempt": row["attempt"],
    }
    if row["last_failure"]:
        out["lastFailure"] = row["last_failure"]
    if row["last_failure_type"]:
        out["lastFailureType"] = row["last_failure_type"]
    out["reason"] = row["pause_reason"] or ""
    if row["max_attempts"] is not None:
        out["maxAttempts"] = row["max_attempts"]
    out["pausedAt"] = _time(row["paused_at"])
    return out


def occurrence_json(row: Mapping[Any, Any], instance: Mapping[Any, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row["id"], "triggerID": row["trigger_id"]}
    if row["workflow_instance_id"]:
        out["workflowInstanceID"] = row["workflow_instance_id"]
    if instance is not None:
        out["workflowInstance"] = instance_json(instance)
    out["date"] = _time(row["date"])
    out["event"] = row["event"]
    if row["error"]:
        out["error"] = row["error"]
    return out


def instance_history_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    """One started stage (BEHAVIOUR.md 4.5)."""
    out: dict[str, Any] = {"name": row["name"], "input": row["input"]}
    if row["error"]:
        out["error"] = row["error"]
    out["terminated"] = bool(row["terminated"])
    out["startedAt"] = _time(row["started_at"])
    if row["terminated_at"] is not None:
        out["terminatedAt"] = _time(row["terminated_at"])
    return out


def stage_history_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    """One activity of a stage (BEHAVIOUR.md 4.6); `output` omitted when none."""
    out: dict[str, Any] = {"name": row["name"], "input": row["input"]}
    if row["output"] is not None:
        out["output"] = row["output"]
    if row["error"]:
        out["error"] = row["error"]
    out["terminated"] = bool(row["terminated"])
    out["startedAt"] = _time(row["started_at"])
    if row["terminated_at"] is not None:
        out["terminatedAt"] = _time(row["terminated_at"])
    if row["last_failure"]:
        out["lastFailure"] = row["last_failure"]
    out["attempt"] = row["attempt"]
    if row["next_execution"] is not None:
        out["nextExecution"] = _time(row["next_execution"])
    if row["paused_at"] is not None and not row["terminated"]:
        out["activityID"] = activity_id(row)
        out["paused"] = True
        out["pauseReason"] = row["pause_reason"] or ""
        if row["last_failure_type"]:
            out["lastFailureType"] = row["last_failure_type"]
    return out
