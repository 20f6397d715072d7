"""Writes history records into the Postgres projection, idempotently.

One transaction per batch. Records dispatch on their type (`engine.history`);
each kind has one `_collect_<kind>` that turns it into a row, and rows are
written with upserts on their natural key: an occurrence is inserted once
(`DO NOTHING`), the engine's rows (status, histories, termination) carry
their full current state, so the latest record of a row wins (`DO UPDATE`).

"Latest" is the record's offset in the history topic (all records of an
instance share its partition), kept in the row's `history_offset`: an
upsert only replaces a row written from an earlier offset. Replaying a batch
after a crash (offsets are committed only after the database commit)
therefore changes nothing, and neither does a projector that was frozen
(SIGSTOP, a long GC pause) while holding a batch and writes it after its
partitions moved on: without the guard its stale rows would overwrite the
newer ones (a terminated stage shown as running again, for good).

A record of a type this writer does not know is counted and logged by the
caller (`Projection.unknown`), never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, func, or_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from engine import history
from engine.db import schema


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _optional_time(value: str | None) -> dt.datetime | None:
    return parse_time(value) if value else None


@dataclass(slots=True)
class _Rows:
    """One batch's rows, keyed so a later record of the same row replaces an earlier one
    (Postgres refuses to upsert one row twice in one statement)."""

    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    occurrences: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[tuple[str, int, str], dict[str, Any]] = field(default_factory=dict)
    stages: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    activities: dict[tuple[str, int, int], dict[str, Any]] = field(default_factory=dict)
    terminations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Per instance, the latest time one of its stages started or ended: its `updatedAt`.
    touched: dict[str, dt.datetime] = field(default_factory=dict)

    def touch(self, instance_id: str, at: dt.datetime) -> None:
        known = self.touched.get(instance_id)
        if known is None or at > known:
            self.touched[instance_id] = at


def _collect_instance(rows: _Rows, record: dict[str, Any], offset: int) -> None:
    """The instance row of a `trigger.occurred` or an `instance.started` (the same
    body): inserted once, whichever topic's record comes first."""
    instance = record.get("instance")
    if instance:
        created = parse_time(instance["createdAt"])
        rows.instances.setdefault(
            instance["id"],
            {
                "id": instance["id"],
                "workflow_id": instance["workflowID"],
                "created_at": created,
                "updated_at": created,
                "terminated": False,
                "variables": instance["variables"],
            },
        )


def _collect_occurrence(rows: _Rows, record: dict[str, Any], offset: int) -> None:
    _collect_instance(rows, record, offset)
    occ = record["occurrence"]
    rows.occurrences.setdefault(
        occ["id"],
        {
            "id": occ["id"],
            "trigger_id": occ["triggerID"],
            "workflow_instance_id": occ.get("workflowInstanceID"),
            "date": parse_time(occ["date"]),
            "event": occ["event"],
            "error": occ.get("error"),
        },
    )


def _collect_status(rows: _Rows, record: dict[str, Any], offset: int) -> None:
    key = (record["instanceID"], int(record["stage"]), record["runID"])
    rows.statuses[key] = {
        "instance_id": key[0],
        "stage": key[1],
        "temporal_run_id": key[2],
        "started_at": parse_time(record["startedAt"]),
        "terminated_at": _optional_time(record.get("terminatedAt")),
        "error": record.get("error"),
        "history_offset": offset,
    }
    status = rows.statuses[key]
    rows.touch(key[0], status["terminated_at"] or status["started_at"])


def _collect_stage(rows: _Rows, record: dict[str, Any], offset: int) -> None:
    key = (record["instanceID"], int(record["stage"]))
    rows.stages[key] = {
        "instance_id": key[0],
        "stage": key[1],
        "name": record["name"],
        "input": record["input"],
        "error": record.get("error"),
        "terminated": bool(record["terminated"]),
        "started_at": parse_time(record["startedAt"]),
        "terminated_at": _optional_time(record.get("terminatedAt")),
        "history_offset": offset,
    }


def _collect_activity(rows: _Rows, record: dict[str, Any], offset: int) -> None:
    key = (record["instanceID"], int(record["stage"]), int(record["position"]))
    rows.activities[key] = {
        "instance_id": key[0],
        "stage": key[1],
        "position": key[2],
        "name": record["name"],
        "input": record["input"],
        "output": record.get("output"),
        "error": record.get("error"),
        "terminated": bool(record["terminated"]),
        "started_at": parse_time(record["startedAt"]),
        "terminated_at": _optional_time(record.get("terminatedAt")),
        "last_failure": record.get("lastFailure"),
        "attempt": int(record["attempt"]),
        "next_execution": _optional_time(record.get("nextExecution")),
        "paused_at": _optional_time(record.get("pausedAt")),
        "pause_reason": record.get("pauseReason"),
        "max_attempts": record.get("maxAttempts"),
        "last_failure_type": record.get("lastFailureType"),
        "history_offset": offset,
    }


def _collect_termination(rows: _Rows, record: dict[str, Any], offset: int) -> None:
    terminated_at = parse_time(record["terminatedAt"])
    rows.terminations[record["instanceID"]] = {
        "terminated_at": terminated_at,
        "error": record.get("error") or None,
    }


_COLLECT: dict[str, Callable[[_Rows, dict[str, Any], int], None]] = {
    history.TRIGGER_OCCURRED: _collect_occurrence,
    history.INSTANCE_STARTED: _collect_instance,
    history.STAGE_STATUS: _collect_status,
    history.STAGE_HISTORY: _collect_stage,
    history.ACTIVITY_HISTORY: _collect_activity,
    history.INSTANCE_TERMINATED: _collect_termination,
}


async def _upsert(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], key: list[str]
) -> None:
    if not rows:
        return
    statement = insert(table)
    changed = {c: statement.excluded[c] for c in rows[0] if c not in key}
    # Only a later record replaces a row (module docstring); NULL: a row
    # projected before migration 0006.
    mark = table.c.history_offset
    newer = or_(mark.is_(None), mark < statement.excluded.history_offset)
    await conn.execute(
        statement.on_conflict_do_update(index_elements=key, set_=changed, where=newer),
        rows,
    )


class ProjectionWriter:
    def __init__(self, db: AsyncEngine) -> None:
        self._db = db

    async def write(self, records: Sequence[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Project `(history offset, record)` pairs (records decoded by
        `history.decode`, in offset order per instance); returns the records
        of unknown type."""
        rows = _Rows()
        unknown = []
        for offset, record in records:
            collect = _COLLECT.get(record.get("type", ""))
            if collect is None:
                unknown.append(record)
            else:
                collect(rows, record, offset)
        if not any(
            (
                rows.instances,
                rows.occurrences,
                rows.statuses,
                rows.stages,
                rows.activities,
                rows.terminations,
            )
        ):
            return unknown
        async with self._db.begin() as conn:
            # Parents first: stage rows reference their instance. In id order:
            # two workers projecting the two topics may insert the same rows,
            # and one lock order means one waits instead of a deadlock.
            if rows.instances:
                await conn.execute(
                    insert(schema.workflow_instances).on_conflict_do_nothing(index_elements=["id"]),
                    [rows.instances[key] for key in sorted(rows.instances)],
                )
            if rows.occurrences:
                await conn.execute(
                    insert(schema.triggers_occurrences).on_conflict_do_nothing(
                        index_elements=["id"]
                    ),
                    list(rows.occurrences.values()),
                )
            await _upsert(
                conn,
                schema.workflow_instance_stage_statuses,
                list(rows.statuses.values()),
                ["instance_id", "stage", "temporal_run_id"],
            )
            await _upsert(
                conn,
                schema.workflow_instance_history,
                list(rows.stages.values()),
                ["instance_id", "stage"],
            )
            await _upsert(
                conn,
                schema.workflow_stage_history,
                list(rows.activities.values()),
                ["instance_id", "stage", "position"],
            )
            table = schema.workflow_instances
            if rows.touched:
                # `updatedAt` follows every stage change (upstream never moves
                # it, 15 item 18); GREATEST keeps a replayed batch from moving
                # it back.
                await conn.execute(
                    update(table)
                    .where(table.c.id == bindparam("b_id"))
                    .values(updated_at=func.greatest(table.c.updated_at, bindparam("b_at"))),
                    [{"b_id": ident, "b_at": at} for ident, at in rows.touched.items()],
                )
            if rows.terminations:
                # One executemany for the batch (psycopg pipelines it).
                await conn.execute(
                    update(table)
                    .where(table.c.id == bindparam("b_id"))
                    .values(
                        terminated=True,
                        terminated_at=bindparam("b_at"),
                        updated_at=func.greatest(table.c.updated_at, bindparam("b_at")),
                        error=bindparam("b_error"),
                    ),
                    [
                        {"b_id": ident, "b_at": v["terminated_at"], "b_error": v["error"]}
                        for ident, v in rows.terminations.items()
                    ],
                )
        return unknown
