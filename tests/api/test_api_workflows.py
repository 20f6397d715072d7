"""Workflow definitions: create (JSON and YAML), read, list, soft delete."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from streams import KafkaSettings, Topics

pytestmark = pytest.mark.integration

PREFIXES = ["", "/v2", "/api/orchestration", "/api/orchestration/v2"]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_create_read_and_list(client: httpx.AsyncClient, prefix: str, helpers: Any) -> None:
    config = {
        "name": "ledger-to-wallet",
        "stages": [
            {"delay": {"duration": "1m"}},
            {"wait_event": {"event": "go"}},
            {
                "send": {
                    "source": {"account": {"id": "${accountID}", "ledger": "main"}},
                    "destination": {"wallet": {"id": "${walletID}"}},
                    "amount": {"amount": "${amount}", "asset": "EUR/2"},
                }
            },
        ],
    }
    created = await client.post(f"{prefix}/workflows", json=config)
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    workflow = created.json()["data"]
    assert workflow["config"] == config  # echoed exactly as submitted
    assert workflow["deletedAt"] is None
    assert workflow["createdAt"] == workflow["updatedAt"]
    assert workflow["createdAt"].endswith("Z")
    uuid.UUID(workflow["id"])

    read = await client.get(f"{prefix}/workflows/{workflow['id']}")
    assert read.status_code == 200
    assert read.json() == {"data": workflow}

    listed = await client.get(f"{prefix}/workflows", params={"pageSize": "100"})
    assert listed.status_code == 200
    body = listed.json()
    items = body["data"] if "v2" not in prefix else body["cursor"]["data"]
    assert workflow["id"] in [w["id"] for w in items]


async def test_empty_configuration_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/workflows", json={})
    assert response.status_code == 201
    # Upstream echoes `stages: null`; the schema (and SDKs) need an array.
    assert response.json()["data"]["config"] == {"name": "", "stages": []}


async def test_yaml_body(client: httpx.AsyncClient) -> None:
    document = b"name: from-yaml\nstages:\n  - delay:\n      until: 2030-01-01T00:00:00Z\n"
    response = await client.post(
        "/v2/workflows", content=document, headers={"Content-Type": "text/vnd.yaml"}
    )
    assert response.status_code == 201, response.text
    config = response.json()["data"]["config"]
    # Timestamps stay strings, as YAML-to-JSON conversion does upstream.
    assert config == {"name": "from-yaml", "stages": [{"delay": {"until": "2030-01-01T00:00:00Z"}}]}


async def test_yaml_needs_the_exact_content_type(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/workflows", content=b"name: x\n", headers={"Content-Type": "text/vnd.yaml; charset=utf-8"}
    )
    assert response.status_code == 400
    assert response.json()["errorMessage"].startswith("unmarshalling json body")


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (b"{", "application/json", "unmarshalling json body"),
        (b"[]", "application/json", "must be an object"),
        (b"", "application/json", "must be an object"),
        (b"stages: [", "text/vnd.yaml", "unmarshalling yaml"),
        (b'{"stages": [{"delay": "5s"}]}', "application/json", "stage 0"),
        (b'{"stages": [{"nope": {}}]}', "application/json", "stage 0"),
        (b'{"stages": [{"delay": {}, "noop": {}}]}', "application/json", "stage 0"),
        (
            b'{"stages": [{"noop": {}}, {"delay": {"duration": "soon"}}]}',
            "application/json",
            "stage 1 (delay): field 'duration'",
        ),
        (
            b'{"stages": [{"send": {"source": {"account": {"id": "a"}},'
            b' "destination": {"account": {"id": "b"}},'
            b' "amount": {"amount": "abc", "asset": "EUR"}}}]}',
            "application/json",
            "field 'amount.amount'",
        ),
        (b'{"name": 3}', "application/json", "field 'name'"),
    ],
)
async def test_invalid_configurations_are_400(
    client: httpx.AsyncClient, body: bytes, content_type: str, fragment: str
) -> None:
    response = await client.post("/workflows", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["errorCode"] == "VALIDATION"
    assert fragment in error["errorMessage"]


async def test_yaml_alias_bomb_is_refused(client: httpx.AsyncClient) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    document = ("\n".join(lines) + "\nstages: []\n").encode()
    response = await client.post(
        "/workflows", content=document, headers={"Content-Type": "text/vnd.yaml"}
    )
    assert response.status_code == 400
    assert "too large" in response.json()["errorMessage"]


async def test_yaml_aliases_of_long_strings_are_counted_by_size(
    client: httpx.AsyncClient,
) -> None:
    # 30 KB of body, 3 MB of JSON once the aliases are expanded.
    refs = ", ".join(["*s"] * 100)
    document = f"s: &s {'x' * 30_000}\nk: [{refs}]\nstages: []\n".encode()
    response = await client.post(
        "/workflows", content=document, headers={"Content-Type": "text/vnd.yaml"}
    )
    assert response.status_code == 400
    assert "too large" in response.json()["errorMessage"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        # Flow and block nesting 1,000 deep: PyYAML's composer would recurse.
        (b"stages: " + b"[" * 1000 + b"]" * 1000 + b"\n", "nested deeper than 128"),
        (
            b"stages:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, 400)),
            "nested deeper than 128",
        ),
        # Python refuses to parse ints of more than 4,300 digits.
        (b"name: x\nstages: []\nbig: " + b"9" * 5000 + b"\n", "unmarshalling yaml"),
    ],
)
async def test_hostile_yaml_is_a_400_with_a_reason(
    client: httpx.AsyncClient, document: bytes, message: str
) -> None:
    response = await client.post(
        "/v2/workflows", content=document, headers={"Content-Type": "text/vnd.yaml"}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errorCode"] == "VALIDATION"
    assert message in body["errorMessage"]


@pytest.mark.parametrize("prefix", ["", "/v2"])
async def test_unknown_workflow_is_404(client: httpx.AsyncClient, prefix: str) -> None:
    response = await client.get(f"{prefix}/workflows/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"errorCode": "NOT_FOUND", "errorMessage": "Workflow not found"}


@pytest.mark.parametrize("prefix", ["", "/v2"])
async def test_soft_delete(client: httpx.AsyncClient, prefix: str, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client, prefix=prefix)
    wid = workflow["id"]
    deleted = await client.delete(f"{prefix}/workflows/{wid}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert deleted.headers["content-type"] == "application/json"
    # Not readable, not listed, not runnable, not deletable twice (upstream: all allowed).
    assert (await client.get(f"{prefix}/workflows/{wid}")).status_code == 404
    listed = await client.get("/workflows")
    assert wid not in [w["id"] for w in listed.json()["data"]]
    run = await client.post(f"{prefix}/workflows/{wid}/instances")
    assert run.status_code == 404
    again = await client.delete(f"{prefix}/workflows/{wid}")
    assert again.status_code == 404
    assert again.json()["errorCode"] == "NOT_FOUND"
    trigger = await client.post(
        f"{prefix}/triggers", json={"event": "SAVED_PAYMENT", "workflowID": wid}
    )
    assert trigger.status_code == 404


async def test_delete_needs_a_uuid(client: httpx.AsyncClient) -> None:
    response = await client.delete("/workflows/not-a-uuid")
    assert response.status_code == 400
    assert response.json()["errorCode"] == "VALIDATION"
    missing = await client.delete(f"/workflows/{uuid.uuid4()}")
    assert missing.status_code == 404


async def test_trailing_slashes(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    assert (await client.get(f"/workflows/{workflow['id']}/")).status_code == 200
    assert (await client.get("/v2/workflows/")).status_code == 200
    created = await client.post("/workflows/", json=helpers.noop)
    assert created.status_code == 201


async def test_definitions_reach_the_topic(
    client: httpx.AsyncClient, kafka_settings: KafkaSettings, helpers: Any
) -> None:
    """Create and delete go through the outbox: the workers see `deletedAt`."""
    workflow = await helpers.create_workflow(client)
    assert (await client.delete(f"/workflows/{workflow['id']}")).status_code == 204
    topics = Topics.from_settings(kafka_settings)
    records = await _read_topic(kafka_settings, topics.definitions, f"workflow:{workflow['id']}", 2)
    created, deleted = (orjson.loads(v) for v in records)
    assert created["deletedAt"] is None
    assert created["config"] == helpers.noop
    assert deleted["deletedAt"] is not None


async def test_trigger_definitions_reach_the_topic(
    client: httpx.AsyncClient, kafka_settings: KafkaSettings, helpers: Any
) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(client, workflow["id"], filter="true")
    assert (await client.delete(f"/triggers/{trigger['id']}")).status_code == 204
    topics = Topics.from_settings(kafka_settings)
    (record,) = await _read_topic(kafka_settings, topics.definitions, f"trigger:{trigger['id']}", 1)
    assert orjson.loads(record)["filter"] == "true"
    tombstone = await _read_tombstone(
        kafka_settings, topics.definitions, f"trigger:{trigger['id']}"
    )
    assert tombstone


async def _read_tombstone(settings: KafkaSettings, topic: str, key: str) -> bool:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        for _ in range(100):
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                if any(r.key == key.encode() and r.value is None for r in records):
                    return True
    finally:
        await consumer.stop()
    return False


async def _read_topic(settings: KafkaSettings, topic: str, key: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[bytes] = []
    try:
        for _ in range(100):
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                found += [r.value for r in records if r.key == key.encode() and r.value]
            if len(found) >= count:
                break
    finally:
        await consumer.stop()
    assert len(found) >= count, f"{len(found)} records for {key} on {topic}"
    return found[:count]


async def test_huge_numbers_round_trip(client: httpx.AsyncClient) -> None:
    """jsonb prints 6.3e166 as its integer digits; it must come back, not a 500."""
    config = {"name": "n", "stages": [], "extra": {"big": 6.364513754204209e166}}
    created = await client.post("/v2/workflows", json=config)
    assert created.status_code == 201
    read = await client.get(f"/v2/workflows/{created.json()['data']['id']}")
    assert read.status_code == 200
    assert read.json()["data"]["config"]["extra"]["big"] == pytest.approx(6.364513754204209e166)
    assert (await client.delete(f"/v2/workflows/{created.json()['data']['id']}")).status_code == 204


async def test_nul_characters_are_400(client: httpx.AsyncClient) -> None:
    body = await client.post("/workflows", content=b'{"name": "a\\u0000b"}')
    assert body.status_code == 400
    path = await client.get("/workflows/a%00b")
    assert path.status_code == 400
    query = await client.get("/v2/triggers", params={"name": "a\x00"})
    assert query.status_code == 400
