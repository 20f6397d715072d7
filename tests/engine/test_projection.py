import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.db import create_db_engine, schema
from engine.history import instance_started, trigger_occurred
from engine.projection import ProjectionWriter
from engine.settings import DatabaseSettings

pytestmark = pytest.mark.integration


class Writers:
    """Factory: writers on a test's engine; `close` before the engine is disposed
    (a writer holds a connection between batches)."""

    def __init__(self) -> None:
        self.made: list[ProjectionWriter] = []

    def __call__(self, db: AsyncEngine) -> ProjectionWriter:
        self.made.append(ProjectionWriter(db))
        return self.made[-1]

    async def close(self) -> None:
        for writer in self.made:
            await writer.aclose()


@pytest.fixture
def writers() -> Writers:
    return Writers()


@pytest.fixture
async def db(make_database: Callable[..., str], writers: Writers) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh database; the test's writers are closed before it is disposed."""
    engine = create_db_engine(DatabaseSettings(database_url=make_database()))
    yield engine
    await writers.close()
    await engine.dispose()


def at(first: int, *records: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """`records` as read from the history topic from offset `first` on."""
    return list(enumerate(records, start=first))


def record(occurrence_id: str, *, instance: bool = True) -> dict[str, Any]:
    occurrence: dict[str, Any] = {
        "id": occurrence_id,
        "triggerID": "t1",
        "date": "2025-03-04T10:22:00.001Z",
        "event": {"type": "E", "payload": {"n": 2**70}},
    }
    body = None
    if instance:
        occurrence["workflowInstanceID"] = f"{occurrence_id}_1"
        body = {
            "id": f"{occurrence_id}_1",
            "workflowID": "w1",
            "createdAt": "2025-03-04T10:22:00.001Z",
            "variables": {"a": "1"},
        }
    else:
        occurrence["error"] = "boom"
    return dict(trigger_occurred(occurrence, body))  # type: ignore[arg-type]


async def test_replaying_a_batch_changes_nothing(db: AsyncEngine, writers: Writers) -> None:
    async with db.begin() as conn:
        await conn.execute(insert(schema.workflows).values(id="w1", config={"stages": []}))
        await conn.execute(insert(schema.triggers).values(id="t1", workflow_id="w1", event="E"))
    writer = writers(db)
    batch = at(0, record("o1"), record("o2", instance=False), record("o1"))
    await writer.write(batch)
    await writer.write(batch)
    async with db.connect() as conn:
        occurrences = (
            (
                await conn.execute(
                    select(schema.triggers_occurrences).order_by(schema.triggers_occurrences.c.id)
                )
            )
            .mappings()
            .all()
        )
        instances = await conn.scalar(select(func.count()).select_from(schema.workflow_instances))
    assert [o["id"] for o in occurrences] == ["o1", "o2"]
    assert occurrences[0]["workflow_instance_id"] == "o1_1"
    assert occurrences[0]["event"]["payload"]["n"] == 2**70
    assert occurrences[1]["workflow_instance_id"] is None
    assert occurrences[1]["error"] == "boom"
    assert instances == 1


def status(stage: int, started: str, terminated: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "type": "stage.status",
        "instanceID": "o1_1",
        "stage": stage,
        "runID": "run-1",
        "startedAt": started,
    }
    if terminated is not None:
        row["terminatedAt"] = terminated
    return row


async def test_updated_at_follows_every_stage_change(db: AsyncEngine, writers: Writers) -> None:
    instances = schema.workflow_instances

    async def updated_at() -> str:
        async with db.connect() as conn:
            value = await conn.scalar(select(instances.c.updated_at))
        assert value is not None
        return str(value.astimezone(dt.UTC).isoformat())

    async with db.begin() as conn:
        await conn.execute(insert(schema.workflows).values(id="w1", config={"stages": []}))
        await conn.execute(insert(schema.triggers).values(id="t1", workflow_id="w1", event="E"))
    writer = writers(db)
    await writer.write(at(0, record("o1")))
    assert await updated_at() == "2025-03-04T10:22:00.001000+00:00"
    first = at(1, status(0, "2025-03-04T10:22:01+00:00"))
    await writer.write(first)
    assert await updated_at() == "2025-03-04T10:22:01+00:00"
    await writer.write(
        at(
            2,
            status(0, "2025-03-04T10:22:01+00:00", "2025-03-04T10:22:02+00:00"),
            status(1, "2025-03-04T10:22:02+00:00", "2025-03-04T10:22:03+00:00"),
        )
    )
    assert await updated_at() == "2025-03-04T10:22:03+00:00"
    await writer.write(
        at(
            4,
            {
                "type": "instance.terminated",
                "instanceID": "o1_1",
                "terminatedAt": "2025-03-04T10:22:04+00:00",
            },
        )
    )
    assert await updated_at() == "2025-03-04T10:22:04+00:00"
    # A batch replayed after a crash does not move it back.
    await writer.write(first)
    assert await updated_at() == "2025-03-04T10:22:04+00:00"


# The first activity of instance o1_1's stage 0, started and running.
ACTIVITY: dict[str, Any] = {
    "type": "activity.history",
    "instanceID": "o1_1",
    "stage": 0,
    "position": 0,
    "name": "CreateTransaction",
    "input": {},
    "startedAt": "2025-03-04T10:22:01+00:00",
    "terminated": False,
}


async def test_a_held_activity_keeps_its_hold_until_a_later_record_clears_it(
    db: AsyncEngine, writers: Writers
) -> None:
    activities = schema.workflow_stage_history
    base = dict(ACTIVITY)
    held = {
        **base,
        "attempt": 15,
        "lastFailure": "not enough",
        "paused": True,
        "pausedAt": "2025-03-04T11:00:00+00:00",
        "pauseReason": "ACTIVITY_ATTEMPT_LIMIT:15",
        "maxAttempts": 15,
        "lastFailureType": "INSUFFICIENT_FUND",
    }
    async with db.begin() as conn:
        await conn.execute(insert(schema.workflows).values(id="w1", config={"stages": []}))
        await conn.execute(insert(schema.triggers).values(id="t1", workflow_id="w1", event="E"))
    writer = writers(db)
    await writer.write(at(0, record("o1"), held))
    async with db.connect() as conn:
        row = (await conn.execute(select(activities))).mappings().one()
    assert row["paused_at"] == dt.datetime(2025, 3, 4, 11, tzinfo=dt.UTC)
    assert (row["pause_reason"], row["max_attempts"], row["last_failure_type"]) == (
        "ACTIVITY_ATTEMPT_LIMIT:15",
        15,
        "INSUFFICIENT_FUND",
    )
    await writer.write(at(2, {**base, "attempt": 1}))  # resumed
    async with db.connect() as conn:
        row = (await conn.execute(select(activities))).mappings().one()
    assert row["paused_at"] is None
    assert row["pause_reason"] is None
    assert row["attempt"] == 1


async def test_a_stale_batch_written_late_changes_no_row(db: AsyncEngine, writers: Writers) -> None:
    """A projector frozen with a batch in hand writes it after another one
    projected later records of the same rows: nothing goes back."""
    running = status(0, "2025-03-04T10:22:01+00:00")
    stage: dict[str, Any] = {
        "type": "stage.history",
        "instanceID": "o1_1",
        "stage": 0,
        "name": "send",
        "input": {},
        "startedAt": "2025-03-04T10:22:01+00:00",
        "terminated": False,
    }
    activity = {**ACTIVITY, "attempt": 1}
    done_at = "2025-03-04T10:22:09+00:00"
    stale = at(1, running, stage, activity)
    later = at(
        4,
        {**activity, "attempt": 2},
        {**activity, "attempt": 2, "terminated": True, "terminatedAt": done_at, "output": {}},
        {**stage, "terminated": True, "terminatedAt": done_at},
        status(0, "2025-03-04T10:22:01+00:00", done_at),
    )
    async with db.begin() as conn:
        await conn.execute(insert(schema.workflows).values(id="w1", config={"stages": []}))
        await conn.execute(insert(schema.triggers).values(id="t1", workflow_id="w1", event="E"))
    writer = writers(db)
    await writer.write(at(0, record("o1")))
    await writer.write(stale)
    await writer.write(later)  # the new owner, from the same offsets on
    await writer.write(stale)  # the zombie, woken up
    async with db.connect() as conn:
        statuses = (
            (await conn.execute(select(schema.workflow_instance_stage_statuses))).mappings().all()
        )
        stages = (await conn.execute(select(schema.workflow_instance_history))).mappings().all()
        activities = (await conn.execute(select(schema.workflow_stage_history))).mappings().all()
    done = dt.datetime(2025, 3, 4, 10, 22, 9, tzinfo=dt.UTC)
    assert [s["terminated_at"] for s in statuses] == [done]
    assert [(s["terminated"], s["terminated_at"]) for s in stages] == [(True, done)]
    assert [(a["attempt"], a["terminated"]) for a in activities] == [(2, True)]


async def test_the_runtime_records_project_before_their_occurrence(
    db: AsyncEngine, writers: Writers
) -> None:
    """The two topics are read independently: the runtime's `instance.started`
    and stage rows may arrive before the matcher's occurrence, and both
    orders give the same rows."""
    occurred = record("o1")
    started = dict(instance_started(occurred["instance"]))
    async with db.begin() as conn:
        await conn.execute(insert(schema.workflows).values(id="w1", config={"stages": []}))
        await conn.execute(insert(schema.triggers).values(id="t1", workflow_id="w1", event="E"))
    writer = writers(db)
    await writer.write(at(0, started, status(0, "2025-03-04T10:22:01+00:00")))
    async with db.connect() as conn:
        early = (await conn.execute(select(schema.workflow_instances))).mappings().all()
    await writer.write(at(0, occurred))
    async with db.connect() as conn:
        instances = (await conn.execute(select(schema.workflow_instances))).mappings().all()
        occurrence = (await conn.execute(select(schema.triggers_occurrences))).mappings().one()
        statuses = await conn.scalar(
            select(func.count()).select_from(schema.workflow_instance_stage_statuses)
        )
    assert [(i["id"], i["workflow_id"], i["variables"]) for i in early] == [
        ("o1_1", "w1", {"a": "1"})
    ]
    assert early[0]["created_at"] == dt.datetime(2025, 3, 4, 10, 22, 0, 1000, tzinfo=dt.UTC)
    assert [dict(i) for i in instances] == [dict(i) for i in early]
    assert occurrence["workflow_instance_id"] == "o1_1"
    assert statuses == 1


async def test_a_write_after_its_connection_was_killed_goes_through_on_a_new_one(
    db: AsyncEngine, writers: Writers
) -> None:
    """The writer holds one connection between batches; a server-side kill (a
    restart, an idle timeout) fails one write, and the retry checks out another."""
    async with db.begin() as conn:
        await conn.execute(insert(schema.workflows).values(id="w1", config={"stages": []}))
        await conn.execute(insert(schema.triggers).values(id="t1", workflow_id="w1", event="E"))
    writer = writers(db)
    await writer.write(at(0, record("o1")))
    async with db.begin() as conn:
        killed = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert killed >= 1
    with pytest.raises(Exception):  # noqa: B017 (psycopg's error for a dead link varies)
        await writer.write(at(1, record("o2")))
    await writer.write(at(1, record("o2")))
    async with db.connect() as conn:
        ids = (await conn.execute(select(schema.triggers_occurrences.c.id))).scalars().all()
    assert sorted(ids) == ["o1", "o2"]
