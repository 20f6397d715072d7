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

import contextlib
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import (
    DateTime,
    String,
    Table,
    Text,
    bindparam,
    column,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from engine import history
from engine.db import schema
from streams import codec


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


# Every statement is compiled once and takes a whole batch as one JSON
# parameter (`jsonb_to_recordset`); a batch's statements go to the server in
# one psycopg pipeline (one round trip, one commit). Through SQLAlchemy's
# executemany a 12-record batch cost 4.9 ms of the worker's CPU (upserts
# built per call, one sync per statement); compiled once with a row per
# execution, ~30 µs a row, the projector was still the largest share of the
# worker's CPU in a burst of starts (benchmarks/engine.py).
_DIALECT = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy


@dataclass(frozen=True, slots=True)
class _Sql:
    text: str
    # Bind names with a fixed value (`terminated=True`).
    fixed: dict[str, Any]

    @classmethod
    def compile(cls, statement: Any) -> _Sql:
        compiled = statement.compile(dialect=_DIALECT)
        fixed = {k: v for k, v in compiled.params.items() if k != "rows"}
        return cls(compiled.string, fixed)

    def params(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        # Times go as RFC 3339 text; Postgres reads them into timestamptz.
        return {**self.fixed, "rows": Jsonb(rows, dumps=codec.dumps)}


def _recordset(columns: Sequence[tuple[str, Any]]) -> Any:
    """The batch's rows as a relation: `jsonb_to_recordset(:rows) AS x(col type, ...)`."""
    rows = bindparam("rows", type_=JSONB)
    typed = [column(name, type_) for name, type_ in columns]
    return func.jsonb_to_recordset(rows).table_valued(*typed).render_derived(with_types=True)


def _insert_from(table: Table, columns: tuple[str, ...], order: str | None = None) -> Any:
    rows = _recordset([(c, table.c[c].type) for c in columns])
    picked = select(*(rows.c[c] for c in columns))
    if order is not None:
        picked = picked.order_by(rows.c[order])
    return insert(table).from_select(list(columns), picked)


@functools.cache
def _upsert(table: Table, columns: tuple[str, ...], key: tuple[str, ...]) -> _Sql:
    statement = _insert_from(table, columns)
    changed = {c: statement.excluded[c] for c in columns if c not in key}
    # Only a later record replaces a row (module docstring); NULL: a row
    # projected before migration 0006.
    mark = table.c.history_offset
    newer = or_(mark.is_(None), mark < statement.excluded.history_offset)
    upsert = statement.on_conflict_do_update(index_elements=list(key), set_=changed, where=newer)
    return _Sql.compile(upsert)


@functools.cache
def _insert_new(table: Table, columns: tuple[str, ...]) -> _Sql:
    # In id order: two workers projecting the two topics may insert the same
    # rows, and one lock order means one waits instead of a deadlock.
    statement = _insert_from(table, columns, order="id")
    return _Sql.compile(statement.on_conflict_do_nothing(index_elements=["id"]))


_INSTANCES = schema.workflow_instances
_AT = DateTime(timezone=True)
# `updatedAt` follows every stage change (upstream never moves it, 15 item
# 18); GREATEST keeps a replayed batch from moving it back.
_TOUCHED = _recordset([("b_id", String()), ("b_at", _AT)])
_TOUCH = _Sql.compile(
    update(_INSTANCES)
    .where(_INSTANCES.c.id == _TOUCHED.c.b_id)
    .values(updated_at=func.greatest(_INSTANCES.c.updated_at, _TOUCHED.c.b_at))
)
_ENDED = _recordset([("b_id", String()), ("b_at", _AT), ("b_error", Text())])
_TERMINATE = _Sql.compile(
    update(_INSTANCES)
    .where(_INSTANCES.c.id == _ENDED.c.b_id)
    .values(
        terminated=True,
        terminated_at=_ENDED.c.b_at,
        updated_at=func.greatest(_INSTANCES.c.updated_at, _ENDED.c.b_at),
        error=_ENDED.c.b_error,
    )
)


def _statements(rows: _Rows) -> list[tuple[_Sql, list[dict[str, Any]]]]:
    """The batch's statements in dependency order, each with its rows."""
    out: list[tuple[_Sql, list[dict[str, Any]]]] = []

    def add(sql: Callable[[tuple[str, ...]], _Sql], batch: list[dict[str, Any]]) -> None:
        if batch:
            out.append((sql(tuple(batch[0])), batch))

    # Parents first: stage rows reference their instance.
    add(lambda cols: _insert_new(_INSTANCES, cols), [*rows.instances.values()])
    add(lambda cols: _insert_new(schema.triggers_occurrences, cols), [*rows.occurrences.values()])
    for table, key, batch in (
        (
            schema.workflow_instance_stage_statuses,
            ("instance_id", "stage", "temporal_run_id"),
            rows.statuses,
        ),
        (schema.workflow_instance_history, ("instance_id", "stage"), rows.stages),
        (schema.workflow_stage_history, ("instance_id", "stage", "position"), rows.activities),
    ):
        add(functools.partial(_upsert, table, key=key), [*batch.values()])
    if rows.touched:
        out.append((_TOUCH, [{"b_id": i, "b_at": at} for i, at in rows.touched.items()]))
    if rows.terminations:
        terminated = [
            {"b_id": i, "b_at": v["terminated_at"], "b_error": v["error"]}
            for i, v in rows.terminations.items()
        ]
        out.append((_TERMINATE, terminated))
    return out


class ProjectionWriter:
    """Holds one connection while it works: a pool checkout with its ping cost
    0.4 ms of CPU per batch, and a burst of starts makes over a thousand
    batches. A failed write drops the connection; the next one checks out
    another (pinged, so a restarted server is noticed)."""

    def __init__(self, db: AsyncEngine) -> None:
        self._db = db
        self._held: AsyncConnection | None = None

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._held is None:
            self._held = await self._db.connect()
        pg = (await self._held.get_raw_connection()).driver_connection
        assert isinstance(pg, psycopg.AsyncConnection)
        return pg

    async def aclose(self, *, broken: bool = False) -> None:
        held, self._held = self._held, None
        if held is not None:
            with contextlib.suppress(Exception):
                if broken:
                    await held.invalidate()
                await held.close()

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
        statements = _statements(rows)
        if not statements:
            return unknown
        pg = await self._connection()
        try:
            async with pg.transaction(), pg.pipeline(), pg.cursor() as cursor:
                for sql, batch in statements:
                    await cursor.execute(sql.text, sql.params(batch))
        except BaseException:
            await self.aclose(broken=True)
            raise
        return unknown
