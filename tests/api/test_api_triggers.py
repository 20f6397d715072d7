"""Triggers: create, read, list (name filter, pages), delete, occurrences, test."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, insert

from engine.db import schema
from engine.settings import sqlalchemy_url

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("prefix", ["", "/v2", "/api/orchestration/v2"])
async def test_create_read_delete(client: httpx.AsyncClient, prefix: str, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    payload = {
        "name": "credit wallet",
        "event": "SAVED_PAYMENT",
        "version": "v3",
        "workflowID": workflow["id"],
        "filter": 'event.type == "PAY-IN"',
        "vars": {"paymentID": "event.id"},
    }
    created = await client.post(f"{prefix}/triggers", json=payload)
    assert created.status_code == 201, created.text
    trigger = created.json()["data"]
    assert {k: trigger[k] for k in payload} == payload
    assert trigger["workflow"] is None
    assert set(trigger) == {*payload, "workflow", "id", "createdAt"}

    read = await client.get(f"{prefix}/triggers/{trigger['id']}")
    assert read.json() == {"data": trigger}

    assert (await client.delete(f"{prefix}/triggers/{trigger['id']}")).status_code == 204
    gone = await client.get(f"{prefix}/triggers/{trigger['id']}")
    assert gone.status_code == 404
    assert gone.json()["errorCode"] == "NOT_FOUND"
    again = await client.delete(f"{prefix}/triggers/{trigger['id']}")
    assert again.status_code == 404


async def test_optional_fields_are_omitted(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(client, workflow["id"])
    assert trigger["name"] == ""
    assert "version" not in trigger
    assert "filter" not in trigger
    assert "vars" not in trigger


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"workflowID": "w"}, 400, "missing event"),
        ({"event": "E"}, 400, "missing workflow id"),
        ({"event": "E", "workflowID": "w", "filter": "a +"}, 400, "error compiling expression"),
        ({"event": "E", "workflowID": "w", "vars": {"x": "("}}, 400, "error compiling expression"),
        ({"event": "E", "workflowID": "w", "vars": {"x": 3}}, 400, "vars"),
        ({"event": 3, "workflowID": "w"}, 400, "'event' must be a string"),
        ({"event": "E", "workflowID": str(uuid.uuid4())}, 404, "workflow does not exists"),
    ],
)
async def test_create_errors(
    client: httpx.AsyncClient, payload: dict[str, Any], status: int, fragment: str
) -> None:
    response = await client.post("/v2/triggers", json=payload)
    assert response.status_code == status, response.text
    assert fragment in response.json()["errorMessage"]


@pytest.mark.parametrize("body", [b"{", b"[1]", b'"x"', b"null"])
async def test_malformed_bodies_are_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post("/triggers", content=body)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "VALIDATION"


async def test_name_filter_and_pages(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    tag = uuid.uuid4().hex[:8]
    names = [f"{tag}-Alpha-{i:02d}" for i in range(20)] + [f"{tag}-beta_%"]
    ids = [(await helpers.create_trigger(client, workflow["id"], name=n))["id"] for n in names]

    # Case-insensitive substring (upstream answers 500 for any name).
    found = await client.get("/v2/triggers", params={"name": f"{tag}-alpha", "pageSize": "7"})
    page = found.json()["cursor"]
    assert page["pageSize"] == 7
    assert page["hasMore"] is True
    assert "previous" not in page
    seen = [t["id"] for t in page["data"]]
    while page["hasMore"]:
        nxt = await client.get(
            "/v2/triggers", params={"cursor": page["next"], "name": "ignored", "pageSize": "1"}
        )
        page = nxt.json()["cursor"]
        assert "previous" in page
        seen += [t["id"] for t in page["data"]]
    assert seen == ids[:20]  # creation order, stable

    # Wildcards in the name are literal.
    literal = await client.get("/triggers", params={"name": "_%"})
    assert [t["id"] for t in literal.json()["data"]] == [ids[20]]

    # v1 pages silently too, `data` only.
    v1 = await client.get("/triggers", params={"name": tag})
    assert set(v1.json()) == {"data"}
    assert len(v1.json()["data"]) == 15


async def test_deleted_triggers_are_not_listed(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    name = uuid.uuid4().hex
    trigger = await helpers.create_trigger(client, workflow["id"], name=name)
    await client.delete(f"/triggers/{trigger['id']}")
    listed = await client.get("/v2/triggers", params={"name": name})
    assert listed.json()["cursor"]["data"] == []


async def test_occurrences(client: httpx.AsyncClient, helpers: Any, database_url: str) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(client, workflow["id"])
    run = await client.post(f"/workflows/{workflow['id']}/instances")
    instance = run.json()["data"]
    event = {
        "idempotency_key": "",
        "date": "2025-03-04T10:21:59.9Z",
        "app": "payments",
        "version": "v3",
        "type": "SAVED_PAYMENT",
        "payload": {"id": "pay_1"},
    }
    start = dt.datetime(2025, 3, 4, 10, 22, tzinfo=dt.UTC)
    rows = [
        {
            "id": f"occ-{i:02d}",
            "trigger_id": trigger["id"],
            "workflow_instance_id": instance["id"] if i % 2 == 0 else None,
            "date": start + dt.timedelta(seconds=i),
            "event": event,
            "error": None if i % 2 == 0 else "link 'x' not defined for object",
        }
        for i in range(18)
    ]
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.begin() as conn:
        conn.execute(insert(schema.triggers_occurrences), rows)
    engine.dispose()

    v1 = (await client.get(f"/triggers/{trigger['id']}/occurrences")).json()["data"]
    assert [o["id"] for o in v1] == [r["id"] for r in rows]
    first, second = v1[0], v1[1]
    assert first["workflowInstanceID"] == instance["id"]
    assert first["workflowInstance"]["id"] == instance["id"]
    assert "workflow" not in first["workflowInstance"]
    assert first["event"] == event
    assert first["date"] == "2025-03-04T10:22:00Z"
    assert "error" not in first
    assert "workflowInstance" not in second
    assert second["error"] == "link 'x' not defined for object"

    page = (await client.get(f"/v2/triggers/{trigger['id']}/occurrences")).json()["cursor"]
    assert len(page["data"]) == 15
    # With a cursor the trigger id travels inside it: the path is ignored.
    nxt = await client.get("/v2/triggers/whatever/occurrences", params={"cursor": page["next"]})
    assert [o["id"] for o in nxt.json()["cursor"]["data"]] == [r["id"] for r in rows[15:]]

    # Occurrences stay readable after the trigger is deleted; unknown ids give [].
    await client.delete(f"/triggers/{trigger['id']}")
    after = await client.get(f"/triggers/{trigger['id']}/occurrences")
    assert len(after.json()["data"]) == 18
    unknown = await client.get(f"/v2/triggers/{uuid.uuid4()}/occurrences")
    assert unknown.json()["cursor"]["data"] == []


# -- POST /v2/triggers/{id}/test ------------------------------------------------


async def _test(client: httpx.AsyncClient, trigger_id: str, payload: Any) -> httpx.Response:
    return await client.post(f"/v2/triggers/{trigger_id}/test", json=payload)


async def test_trigger_test_match_and_vars(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(
        client,
        workflow["id"],
        filter='event.status == "SUCCEEDED"',
        vars={
            "paymentID": "event.id",
            "amount": "event.amount",
            "walletID": "event.metadata.walletID",
            "empty": '""',
        },
    )
    response = await _test(
        client, trigger["id"], {"status": "SUCCEEDED", "id": "p1", "amount": 1200000}
    )
    assert response.status_code == 200
    result = response.json()["data"]
    assert result["filter"] == {"match": True}
    variables = result["variables"]
    assert variables["paymentID"] == {"value": "p1"}
    assert variables["amount"] == {"value": "1200000"}
    assert "cannot fetch walletID" in variables["walletID"]["error"]
    assert variables["empty"] == {}


async def test_trigger_test_no_match(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(
        client, workflow["id"], filter='event.status == "SUCCEEDED"', vars={"x": "event.id"}
    )
    result = (await _test(client, trigger["id"], {"status": "FAILED"})).json()["data"]
    assert result == {"filter": {"match": False}}


async def test_trigger_test_failing_filter(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(client, workflow["id"], filter="event.a.b.c == 1")
    result = (await _test(client, trigger["id"], {})).json()["data"]
    assert result["filter"]["match"] is False
    assert "(1:" in result["filter"]["error"]


async def test_trigger_test_without_filter_or_vars(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(client, workflow["id"])
    assert (await _test(client, trigger["id"], {"a": 1})).json() == {"data": {}}


async def test_trigger_test_link_without_stack_url(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(
        client, workflow["id"], vars={"role": 'link(event, "account").role'}
    )
    payload = {"links": [{"name": "account", "uri": "http://169.254.169.254/latest"}]}
    result = (await _test(client, trigger["id"], payload)).json()["data"]
    assert "link() is unavailable" in result["variables"]["role"]["error"]


async def test_trigger_test_errors(client: httpx.AsyncClient, helpers: Any) -> None:
    missing = await _test(client, str(uuid.uuid4()), {})
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "NOT_FOUND"
    workflow = await helpers.create_workflow(client)
    trigger = await helpers.create_trigger(client, workflow["id"])
    for body in (b"{", b"[]", b"3", b""):
        response = await client.post(f"/v2/triggers/{trigger['id']}/test", content=body)
        assert response.status_code == 400, body
        assert response.json()["errorCode"] == "VALIDATION"
    # v2 only.
    v1 = await client.post(f"/triggers/{trigger['id']}/test", json={})
    assert v1.status_code in (404, 405)


class _Resources(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        raw = json.dumps({"data": {"role": "admin", "path": self.path}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def test_trigger_test_follows_links_under_the_stack_url(
    make_client: Any, helpers: Any
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Resources)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stack = f"http://127.0.0.1:{server.server_address[1]}/api"
    try:
        async with make_client(relay=False, stack_url=stack) as client:
            workflow = await helpers.create_workflow(client)
            trigger = await helpers.create_trigger(
                client,
                workflow["id"],
                vars={"role": 'link(event, "account").role', "other": 'link(event, "evil").role'},
            )
            payload = {
                "links": [
                    {"name": "account", "uri": f"{stack}/ledger/accounts/a1"},
                    {"name": "evil", "uri": "http://169.254.169.254/latest/meta-data"},
                ]
            }
            result = (await _test(client, trigger["id"], payload)).json()["data"]
    finally:
        server.shutdown()
        server.server_close()
    assert result["variables"]["role"] == {"value": "admin"}
    assert "not allowed" in result["variables"]["other"]["error"]
