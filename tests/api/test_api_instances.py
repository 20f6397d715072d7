"""Instances: run (with and without wait), list, read, events, abort, histories,
and the commands the API hands to the engine through the outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import Engine, create_engine, insert, select, update

from engine import commands
from engine.db import schema
from engine.settings import sqlalchemy_url
from streams import KafkaSettings, Topics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[Engine]:
    engine = create_engine(sqlalchemy_url(database_url))
    yield engine
    engine.dispose()


def _outbox_commands(db: Engine, topic: str) -> list[commands.Command]:
    """Commands still in the outbox (the relay is off in the client that uses this)."""
    with db.connect() as conn:
        rows = conn.execute(
            select(schema.outbox).where(schema.outbox.c.topic == topic).order_by(schema.outbox.c.id)
        ).all()
    return [commands.decode(r.value) for r in rows]


@pytest.mark.parametrize("prefix", ["", "/v2", "/api/orchestration"])
async def test_run_answers_201_with_the_new_instance(
    client: httpx.AsyncClient, prefix: str, helpers: Any, db: Engine
) -> None:
    workflow = await helpers.create_workflow(client)
    response = await client.post(
        f"{prefix}/workflows/{workflow['id']}/instances", json={"paymentID": "pay_1"}
    )
    assert response.status_code == 201, response.text
    instance = response.json()["data"]
    assert set(instance) == {"workflowID", "id", "createdAt", "updatedAt", "terminated"}
    assert instance["workflowID"] == workflow["id"]
    assert instance["terminated"] is False
    with db.connect() as conn:
        row = conn.execute(
            select(schema.workflow_instances).where(
                schema.workflow_instances.c.id == instance["id"]
            )
        ).one()
    assert row.variables == {"paymentID": "pay_1"}
    assert row.terminated is False


async def test_start_command_reaches_the_commands_topic(
    client: httpx.AsyncClient, kafka_settings: KafkaSettings, helpers: Any
) -> None:
    workflow = await helpers.create_workflow(client, helpers.wait)
    run = await client.post(f"/workflows/{workflow['id']}/instances", json={"a": "1"})
    instance_id = run.json()["data"]["id"]
    assert (
        await client.post(f"/instances/{instance_id}/events", json={"name": "go"})
    ).status_code == 204
    assert (await client.put(f"/instances/{instance_id}/abort")).status_code == 204

    topic = Topics.from_settings(kafka_settings).commands
    received = await _read_commands(kafka_settings, topic, instance_id, 3)
    start, event, abort = received
    assert isinstance(start, commands.StartInstance)
    assert start.workflow_id == workflow["id"]
    assert start.config == helpers.wait  # the configuration snapshot
    assert start.variables == {"a": "1"}
    assert isinstance(event, commands.DeliverEvent)
    assert event.name == "go"
    assert isinstance(abort, commands.AbortInstance)
    assert len({start.id, event.id, abort.id}) == 3


async def _read_commands(
    settings: KafkaSettings, topic: str, instance_id: str, count: int
) -> list[commands.Command]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[commands.Command] = []
    try:
        for _ in range(100):
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    if record.key == instance_id.encode():
                        found.append(commands.decode(record.value))
            if len(found) >= count:
                break
    finally:
        await consumer.stop()
    assert len(found) == count
    return found


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"a": 1}', "value of 'a' must be a string"),
        (b"[]", "expected an object of strings"),
        (b"{", "unmarshalling json body"),
    ],
)
async def test_run_rejects_bad_variables(
    client: httpx.AsyncClient, helpers: Any, body: bytes, fragment: str
) -> None:
    workflow = await helpers.create_workflow(client)
    response = await client.post(f"/workflows/{workflow['id']}/instances", content=body)
    assert response.status_code == 400
    assert fragment in response.json()["errorMessage"]


async def test_run_unknown_workflow_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(f"/v2/workflows/{uuid.uuid4()}/instances")
    assert response.status_code == 404
    assert response.json()["errorCode"] == "NOT_FOUND"


async def test_run_without_body(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    response = await client.post(f"/workflows/{workflow['id']}/instances")
    assert response.status_code == 201


async def test_wait_returns_the_terminated_instance_with_its_error(
    make_client: Any, helpers: Any, db: Engine
) -> None:
    async with make_client(relay=False) as client:
        workflow = await helpers.create_workflow(client)

    async def engine_finishes() -> None:
        # Stands in for the engine: terminate whatever instance shows up.
        for _ in range(200):
            with db.begin() as conn:
                done = conn.execute(
                    update(schema.workflow_instances)
                    .where(
                        schema.workflow_instances.c.workflow_id == workflow["id"],
                        schema.workflow_instances.c.terminated.is_(False),
                    )
                    .values(
                        terminated=True,
                        terminated_at=dt.datetime.now(dt.UTC),
                        error="canceled",
                    )
                    .returning(schema.workflow_instances.c.id)
                ).all()
                for (instance_id,) in done:
                    conn.execute(
                        insert(schema.workflow_instance_stage_statuses).values(
                            instance_id=instance_id,
                            stage=0,
                            temporal_run_id="run-1",
                            terminated_at=dt.datetime.now(dt.UTC),
                            error="canceled",
                        )
                    )
            if done:
                return
            await asyncio.sleep(0.05)

    finisher = asyncio.create_task(engine_finishes())
    # A generous bound: the finisher acts long before it on any machine.
    async with make_client(relay=False, wait_timeout=60) as waiting:
        response = await waiting.post(
            f"/workflows/{workflow['id']}/instances", params={"wait": "TRUE"}
        )
    await finisher
    assert response.status_code == 201
    instance = response.json()["data"]
    assert instance["terminated"] is True
    assert instance["error"] == "canceled"
    assert instance["workflow"]["id"] == workflow["id"]
    assert instance["status"][0]["error"] == "canceled"


async def test_wait_bound_answers_the_running_instance(
    client: httpx.AsyncClient, helpers: Any
) -> None:
    workflow = await helpers.create_workflow(client, helpers.wait)
    response = await client.post(f"/workflows/{workflow['id']}/instances", params={"wait": "1"})
    assert response.status_code == 201
    instance = response.json()["data"]
    assert instance["terminated"] is False
    assert instance["workflow"]["id"] == workflow["id"]
    assert "status" not in instance


async def test_list_filters_and_read(client: httpx.AsyncClient, helpers: Any, db: Engine) -> None:
    workflow = await helpers.create_workflow(client)
    ids = []
    for _ in range(4):
        run = await client.post(f"/workflows/{workflow['id']}/instances")
        ids.append(run.json()["data"]["id"])
    with db.begin() as conn:
        conn.execute(
            update(schema.workflow_instances)
            .where(schema.workflow_instances.c.id.in_(ids[:2]))
            .values(terminated=True, terminated_at=dt.datetime.now(dt.UTC))
        )

    v1 = (await client.get("/instances", params={"workflowID": workflow["id"]})).json()["data"]
    assert [i["id"] for i in v1] == ids
    assert all(i["workflow"]["id"] == workflow["id"] and "status" not in i for i in v1)
    running = await client.get(
        "/v2/instances", params={"workflowID": workflow["id"], "running": "True", "pageSize": "1"}
    )
    page = running.json()["cursor"]
    assert [i["id"] for i in page["data"]] == ids[2:3]
    nxt = await client.get("/v2/instances", params={"cursor": page["next"]})
    assert [i["id"] for i in nxt.json()["cursor"]["data"]] == ids[3:]
    assert nxt.json()["cursor"]["hasMore"] is False

    read = (await client.get(f"/instances/{ids[0]}")).json()["data"]
    assert read["terminated"] is True
    assert "terminatedAt" in read
    assert read["workflow"]["config"] == helpers.noop

    # Instances of deleted workflows leave the list but stay readable.
    await client.delete(f"/workflows/{workflow['id']}")
    gone = await client.get("/instances", params={"workflowID": workflow["id"]})
    assert gone.json()["data"] == []
    kept = await client.get(f"/v2/instances/{ids[0]}")
    assert kept.status_code == 200
    assert kept.json()["data"]["workflow"]["deletedAt"] is not None


@pytest.mark.parametrize("prefix", ["", "/v2"])
async def test_unknown_instance_is_404_everywhere(client: httpx.AsyncClient, prefix: str) -> None:
    missing = f"{prefix}/instances/{uuid.uuid4()}"
    for response in (
        await client.get(missing),
        await client.get(f"{missing}/history"),
        await client.get(f"{missing}/stages/0/history"),
        await client.post(f"{missing}/events", json={"name": "go"}),
        await client.put(f"{missing}/abort"),
    ):
        assert response.status_code == 404, response.request.url
        assert response.json()["errorCode"] == "NOT_FOUND"


async def test_events_and_abort_write_commands(
    make_client: Any, make_database: Any, helpers: Any, kafka_settings: KafkaSettings
) -> None:
    # A database of its own: no relay drains its outbox while the test reads it.
    url = make_database()
    db = create_engine(sqlalchemy_url(url))
    topic = Topics.from_settings(kafka_settings).commands
    async with make_client(relay=False, database=url) as client:
        workflow = await helpers.create_workflow(client, helpers.wait)
        run = await client.post(f"/workflows/{workflow['id']}/instances")
        instance_id = run.json()["data"]["id"]
        sent = await client.post(f"/v2/instances/{instance_id}/events", json={"name": "go", "x": 1})
        assert sent.status_code == 204
        assert sent.content == b""
        aborted = await client.put(f"/v2/instances/{instance_id}/abort")
        assert aborted.status_code == 204
        mine = [c for c in _outbox_commands(db, topic) if c.instance_id == instance_id]
        assert [type(c) for c in mine] == [
            commands.StartInstance,
            commands.DeliverEvent,
            commands.AbortInstance,
        ]

        # A terminated instance takes no event; aborting it is a no-op.
        with db.begin() as conn:
            conn.execute(
                update(schema.workflow_instances)
                .where(schema.workflow_instances.c.id == instance_id)
                .values(terminated=True, terminated_at=dt.datetime.now(dt.UTC))
            )
        late = await client.post(f"/instances/{instance_id}/events", json={"name": "go"})
        assert late.status_code == 400
        assert late.json()["errorCode"] == "VALIDATION"
        assert (await client.put(f"/instances/{instance_id}/abort")).status_code == 204
        after = [c for c in _outbox_commands(db, topic) if c.instance_id == instance_id]
        assert len(after) == 3
    db.dispose()


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"name": 3}', b"{}", b'{"name": ""}'])
async def test_event_body_errors(client: httpx.AsyncClient, helpers: Any, body: bytes) -> None:
    workflow = await helpers.create_workflow(client, helpers.wait)
    run = await client.post(f"/workflows/{workflow['id']}/instances")
    response = await client.post(f"/instances/{run.json()['data']['id']}/events", content=body)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "VALIDATION"


async def test_histories(client: httpx.AsyncClient, helpers: Any, db: Engine) -> None:
    workflow = await helpers.create_workflow(client)
    run = await client.post(f"/workflows/{workflow['id']}/instances")
    instance_id = run.json()["data"]["id"]
    assert (await client.get(f"/instances/{instance_id}/history")).json() == {"data": []}
    assert (await client.get(f"/instances/{instance_id}/stages/0/history")).status_code == 404

    started = dt.datetime(2025, 3, 4, 10, 15, 30, 210000, tzinfo=dt.UTC)
    stage_input = {"source": {"account": {"id": "users:042"}}, "amount": {"amount": 1500}}
    with db.begin() as conn:
        conn.execute(
            insert(schema.workflow_instance_history).values(
                instance_id=instance_id,
                stage=0,
                name="RunSend",
                input=stage_input,
                terminated=True,
                started_at=started,
                terminated_at=started + dt.timedelta(seconds=1),
            )
        )
        conn.execute(
            insert(schema.workflow_stage_history),
            [
                {
                    "instance_id": instance_id,
                    "stage": 0,
                    "position": 0,
                    "name": "DebitWallet",
                    "input": {"DebitWallet": {"id": "w"}},
                    "output": None,
                    "terminated": True,
                    "started_at": started,
                    "terminated_at": started,
                    "last_failure": None,
                    "attempt": 1,
                    "next_execution": None,
                },
                {
                    "instance_id": instance_id,
                    "stage": 0,
                    "position": 1,
                    "name": "CreateTransaction",
                    "input": {"CreateTransaction": {"Ledger": "main"}},
                    "output": None,
                    "terminated": False,
                    "started_at": started,
                    "terminated_at": None,
                    "last_failure": "insufficient funds",
                    "attempt": 6,
                    "next_execution": started + dt.timedelta(seconds=32),
                },
            ],
        )
    history = (await client.get(f"/v2/instances/{instance_id}/history")).json()["data"]
    assert history == [
        {
            "name": "RunSend",
            "input": stage_input,
            "terminated": True,
            "startedAt": "2025-03-04T10:15:30.21Z",
            "terminatedAt": "2025-03-04T10:15:31.21Z",
        }
    ]
    stage = (await client.get(f"/instances/{instance_id}/stages/0/history")).json()["data"]
    assert [a["name"] for a in stage] == ["DebitWallet", "CreateTransaction"]
    assert "output" not in stage[0]  # the DebitWallet 204 case: no crash, no output
    assert stage[1]["lastFailure"] == "insufficient funds"
    assert stage[1]["attempt"] == 6
    assert stage[1]["nextExecution"] == "2025-03-04T10:16:02.21Z"
    for number in ("1", "-1", "99999999999999999999"):
        response = await client.get(f"/instances/{instance_id}/stages/{number}/history")
        assert response.status_code == 404
    bad = await client.get(f"/v2/instances/{instance_id}/stages/abc/history")
    assert bad.status_code == 404
    assert bad.json()["errorCode"] == "NOT_FOUND"


async def test_wait_answers_when_the_server_stops(
    make_client: Any, helpers: Any, db: Engine
) -> None:
    async with make_client(relay=False, wait_timeout=600) as client:
        workflow = await helpers.create_workflow(client, helpers.wait)
        waiting = asyncio.create_task(
            client.post(f"/workflows/{workflow['id']}/instances", params={"wait": "true"})
        )
        for _ in range(600):  # until the instance exists, i.e. the poll has begun
            with db.connect() as conn:
                found = conn.execute(
                    select(schema.workflow_instances.c.id).where(
                        schema.workflow_instances.c.workflow_id == workflow["id"]
                    )
                ).first()
            if found:
                break
            await asyncio.sleep(0.05)
        client.app.state.services.stopping.set()  # type: ignore[attr-defined]
        response = await waiting
    assert response.status_code == 201
    assert response.json()["data"]["terminated"] is False
