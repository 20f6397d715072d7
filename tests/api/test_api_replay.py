"""The replay extension's routes, in-process on real Postgres and Kafka."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from engine import ReplayProgress, ReplayWindow

pytestmark = pytest.mark.integration

FROM = "2025-03-04T10:00:00Z"


async def test_a_replay_runs_in_the_background_and_reports_its_end(
    client: httpx.AsyncClient, helpers: Any
) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(client, workflow["id"])
    started = await client.post(f"/v2/triggers/{trigger['id']}/replay", json={"from": FROM})
    assert started.status_code == 202, started.text
    body = started.json()["data"]
    assert (body["triggerID"], body["from"], body["to"]) == (trigger["id"], FROM, None)
    url = f"/v2/triggers/{trigger['id']}/replays/{body['id']}"
    for _ in range(600):
        status = (await client.get(url)).json()["data"]
        if status["done"]:
            break
        await asyncio.sleep(0.1)
    assert status["done"] is True
    assert status["error"] is None
    # The module's inbound topics hold nothing for this event type.
    assert status["occurrences"] == 0


async def test_one_replay_at_a_time_per_trigger(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(client, workflow["id"])
    release = asyncio.Event()

    async def held(progress: ReplayProgress) -> None:
        await release.wait()

    replays = client.app.state.services.replays  # type: ignore[attr-defined]
    running = replays.start(trigger["id"], ReplayWindow.parse(FROM), held)
    try:
        refused = await client.post(f"/v2/triggers/{trigger['id']}/replay", json={"from": FROM})
        assert refused.status_code == 409
        assert refused.json()["errorCode"] == "CONFLICT"
        assert running.id in refused.json()["errorMessage"]
    finally:
        release.set()


async def test_a_trigger_of_a_deleted_workflow_cannot_be_replayed(
    client: httpx.AsyncClient, helpers: Any
) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(client, workflow["id"])
    assert (await client.delete(f"/v2/workflows/{workflow['id']}")).status_code == 204
    answer = await client.post(f"/v2/triggers/{trigger['id']}/replay", json={"from": FROM})
    assert answer.status_code == 404
    assert answer.json() == {"errorCode": "NOT_FOUND", "errorMessage": "workflow does not exists"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "validating data"),
        (b'{"to": "2025-03-04T10:00:00Z"}', "'from' must be"),
        (b'{"from": "2025-03-04T10:00:00Z", "to": "2025-03-04T09:00:00Z"}', "before 'from'"),
    ],
)
async def test_bad_bodies_are_validation_errors(
    client: httpx.AsyncClient, helpers: Any, body: bytes, message: str
) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(client, workflow["id"])
    answer = await client.post(f"/v2/triggers/{trigger['id']}/replay", content=body)
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "VALIDATION"
    assert message in answer.json()["errorMessage"]
