"""Paused activities (BEHAVIOUR 14.4): `pendingActivities`, the stage history
fields, and `POST .../activities/{activityID}/resume` with its error cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, insert, select, update

from engine import commands
from engine.db import schema
from engine.settings import sqlalchemy_url

pytestmark = pytest.mark.integration

PAUSED_AT = dt.datetime(2025, 3, 4, 11, 0, 0, 123456, tzinfo=dt.UTC)
RUN = "run-1"


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[Engine]:
    engine = create_engine(sqlalchemy_url(database_url))
    yield engine
    engine.dispose()


async def held_instance(client: httpx.AsyncClient, helpers: Any, db: Engine) -> str:
    """An instance whose stage 0 activity 1 is on hold, as the projector writes it."""
    workflow = await helpers.create_workflow(client)
    run = await client.post(f"/workflows/{workflow['id']}/instances")
    instance_id: str = run.json()["data"]["id"]
    started = dt.datetime(2025, 3, 4, 10, 0, tzinfo=dt.UTC)
    activity = {
        "instance_id": instance_id,
        "stage": 0,
        "input": {},
        "started_at": started,
        "terminated": False,
    }
    # A multi-row insert takes its columns from the first row: same keys in both.
    done = {
        "name": "GetWallet",
        "terminated": True,
        "attempt": 1,
        "last_failure": None,
        "last_failure_type": None,
        "pause_reason": None,
        "max_attempts": None,
        "paused_at": None,
    }
    with db.begin() as conn:
        conn.execute(
            insert(schema.workflow_instance_stage_statuses).values(
                instance_id=instance_id, stage=0, temporal_run_id=RUN, started_at=started
            )
        )
        conn.execute(
            insert(schema.workflow_instance_history).values(
                instance_id=instance_id, stage=0, name="RunSend", input={}, started_at=started
            )
        )
        conn.execute(
            insert(schema.workflow_stage_history).values(
                [
                    {**activity, "position": 0, **done},
                    {
                        **activity,
                        "position": 1,
                        "name": "DebitWallet",
                        "attempt": 15,
                        "last_failure": "insufficient funds",
                        "last_failure_type": "INSUFFICIENT_FUND",
                        "pause_reason": "ACTIVITY_ATTEMPT_LIMIT:15",
                        "max_attempts": 15,
                        "paused_at": PAUSED_AT,
                    },
                ]
            )
        )
    return instance_id


def resume_commands(db: Engine, instance_id: str) -> list[commands.ResumeActivity]:
    with db.connect() as conn:
        rows = conn.execute(
            select(schema.outbox)
            .where(schema.outbox.c.key == instance_id.encode())
            .order_by(schema.outbox.c.id)
        ).all()
    decoded = [commands.decode(r.value) for r in rows]
    return [c for c in decoded if isinstance(c, commands.ResumeActivity)]


def body(paused_at: str = "2025-03-04T11:00:00.123456Z", run: str = RUN) -> dict[str, str]:
    return {"temporalRunID": run, "pausedAt": paused_at}


async def test_a_held_activity_shows_in_the_instance_and_the_stage_history(
    make_client: Any, helpers: Any, db: Engine
) -> None:
    async with make_client(relay=False) as client:
        instance_id = await held_instance(client, helpers, db)
        instance = (await client.get(f"/v2/instances/{instance_id}")).json()["data"]
        (status,) = instance["status"]
        assert status["pendingActivities"] == [
            {
                "activityID": f"{instance_id}:0:1",
                "temporalRunID": RUN,
                "name": "DebitWallet",
                "attempt": 15,
                "lastFailure": "insufficient funds",
                "lastFailureType": "INSUFFICIENT_FUND",
                "reason": "ACTIVITY_ATTEMPT_LIMIT:15",
                "maxAttempts": 15,
                "pausedAt": "2025-03-04T11:00:00.123456Z",
            }
        ]
        listed = (await client.get("/v2/instances")).json()["cursor"]["data"]
        assert all("status" not in i for i in listed)  # lists never carry them
        history = (await client.get(f"/instances/{instance_id}/stages/0/history")).json()
        first, held = history["data"]
        assert "paused" not in first
        assert held["paused"] is True
        assert held["pauseReason"] == "ACTIVITY_ATTEMPT_LIMIT:15"
        assert held["lastFailureType"] == "INSUFFICIENT_FUND"
        assert held["activityID"] == f"{instance_id}:0:1"
        assert "nextExecution" not in held


@pytest.mark.parametrize("prefix", ["", "/v2"])
async def test_resume_writes_the_resume_command_and_answers_204(
    make_client: Any, helpers: Any, db: Engine, prefix: str
) -> None:
    async with make_client(relay=False) as client:
        instance_id = await held_instance(client, helpers, db)
        response = await client.post(
            f"{prefix}/instances/{instance_id}/stages/0/activities/{instance_id}:0:1/resume",
            # The same instant with an offset: the pause observed is the pause held.
            json=body("2025-03-04T12:00:00.123456+01:00"),
        )
    assert response.status_code == 204, response.text
    assert response.content == b""
    (command,) = resume_commands(db, instance_id)
    assert command.activity_id == f"{instance_id}:0:1"
    assert dt.datetime.fromisoformat(command.paused_at) == PAUSED_AT


@pytest.mark.parametrize(
    ("number", "activity", "payload", "message"),
    [
        ("-1", "a", body(), "stage number must be a nonnegative integer"),
        ("x", "a", body(), "stage number must be a nonnegative integer"),
        ("0", "%20", body(), "activityID must not be empty"),
        ("0", "a", [1], "body must be a JSON object containing temporalRunID and pausedAt"),
        (
            "0",
            "a",
            {**body(), "extra": 1},
            "body must be a JSON object containing temporalRunID and pausedAt",
        ),
        ("0", "a", b'{"temporalRunID":"r"} {}', "body must contain exactly one JSON object"),
        ("0", "a", body(run=" "), "temporalRunID must not be empty"),
        ("0", "a", body("yesterday"), "pausedAt must be a nonzero RFC3339 timestamp"),
        ("0", "a", body("2025-03-04T11:00:00"), "pausedAt must be a nonzero RFC3339 timestamp"),
        ("0", "a", body("0001-01-01T00:00:00Z"), "pausedAt must be a nonzero RFC3339 timestamp"),
    ],
)
async def test_resume_validation(
    client: httpx.AsyncClient, number: str, activity: str, payload: Any, message: str
) -> None:
    content = payload if isinstance(payload, bytes) else None
    response = await client.post(
        f"/v2/instances/some/stages/{number}/activities/{activity}/resume",
        content=content,
        json=None if content is not None else payload,
    )
    assert response.status_code == 400, response.text
    assert response.json() == {"errorCode": "VALIDATION", "errorMessage": message}


async def test_resume_not_found_and_conflict_cases(
    make_client: Any, helpers: Any, db: Engine
) -> None:
    async with make_client(relay=False) as client:
        iid = await held_instance(client, helpers, db)

        async def resume(stage: int, activity: str, **fields: str) -> httpx.Response:
            return await client.post(
                f"/v2/instances/{iid}/stages/{stage}/activities/{activity}/resume",
                json=body(**fields),
            )

        unknown = await client.post("/v2/instances/nope/stages/0/activities/a/resume", json=body())
        assert (unknown.status_code, unknown.json()["errorMessage"]) == (404, "Instance not found")
        for response in (
            await resume(1, f"{iid}:1:0"),  # stage never started
            await resume(0, f"{iid}:0:7"),  # no such activity
            await resume(0, "7"),  # not an activity id of this stage
            await resume(0, f"{iid}:0:1", run="other-run"),  # unknown run
            await resume(0, f"{iid}:0:0"),  # completed, not pending
        ):
            assert response.status_code == 404, response.text
            assert response.json()["errorMessage"] == "activity or stage not found"
        # Paused again since it was observed: refresh first.
        stale = await resume(0, f"{iid}:0:1", paused_at="2025-03-04T10:59:00Z")
        assert stale.status_code == 409
        assert stale.json() == {
            "errorCode": "CONFLICT",
            "errorMessage": "activity cannot be resumed from the observed pause; "
            "refresh the instance",
        }
        assert resume_commands(db, iid) == []
        # Released meanwhile (the projection shows it running): a no-op 204.
        activities = schema.workflow_stage_history
        with db.begin() as conn:
            conn.execute(
                update(activities)
                .where(activities.c.instance_id == iid, activities.c.position == 1)
                .values(paused_at=None, attempt=1)
            )
        assert (await resume(0, f"{iid}:0:1")).status_code == 204
        assert resume_commands(db, iid) == []
        # A terminated instance cannot be resumed.
        with db.begin() as conn:
            conn.execute(
                update(schema.workflow_instances)
                .where(schema.workflow_instances.c.id == iid)
                .values(terminated=True, terminated_at=dt.datetime.now(dt.UTC))
            )
        assert (await resume(0, f"{iid}:0:1")).status_code == 409
