"""Service surface: info, health, unknown paths, methods, body bounds,
the INTERNAL envelope, pagination parameters, metrics and access logs."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import structlog

from api import store

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("prefix", ["", "/api/orchestration"])
async def test_info_and_health(client: httpx.AsyncClient, prefix: str) -> None:
    assert (await client.get(f"{prefix}/_healthcheck")).json() == {"default": "OK"}
    assert (await client.get(f"{prefix}/_info")).json() == {"version": "develop"}
    # Upstream answers 404 here although its SDKs call it.
    assert (await client.get(f"{prefix}/v2/_info")).json() == {"version": "develop"}


async def test_unknown_paths_and_methods(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/v1/workflows")
    assert unknown.status_code == 404
    assert unknown.text == "404 page not found"
    wrong = await client.patch("/workflows")
    assert wrong.status_code == 405
    assert wrong.content == b""
    assert "GET" in wrong.headers["allow"]


async def test_body_size_limit(make_client: Any) -> None:
    async with make_client(max_body_bytes=1024, relay=False) as client:
        big = b'{"name": "' + b"x" * 2000 + b'"}'
        response = await client.post("/workflows", content=big)
        assert response.status_code == 413
        assert response.json()["errorCode"] == "VALIDATION"

        async def chunks() -> Any:  # no Content-Length: counted while read
            for _ in range(4):
                yield b"x" * 512

        streamed = await client.post("/workflows", content=chunks())
        assert streamed.status_code == 413


async def test_unexpected_failure_is_an_internal_envelope(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail: password=hunter2")

    monkeypatch.setattr(store, "list_workflows", broken)
    response = await client.get("/workflows")
    assert response.status_code == 500
    assert response.json() == {"errorCode": "INTERNAL", "errorMessage": "internal error"}
    assert "hunter2" not in response.text


@pytest.mark.parametrize("value", ["abc", "-1", "4294967296", "1.5", "\u0661"])
async def test_invalid_page_size(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/v2/workflows", params={"pageSize": value})
    assert response.status_code == 400
    assert response.json() == {
        "errorCode": "VALIDATION",
        "errorMessage": "invalid 'pageSize' query param",
    }


def _cursor(body: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "e30",  # {} is fine? no: it decodes, see below
        _cursor([1]),
        _cursor({"offset": -1, "pageSize": 15}),
        _cursor({"offset": "1", "pageSize": 15}),
        _cursor({"offset": 2**63, "pageSize": 15}),
        _cursor({"offset": 0, "pageSize": 15, "filters": [1]}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
async def test_invalid_cursor(client: httpx.AsyncClient, cursor: str) -> None:
    response = await client.get("/v2/instances", params={"cursor": cursor})
    if cursor == "e30":
        # `{}`: offset 0, default page size, no filters, as Go decodes it.
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert response.json()["errorMessage"] == "invalid 'cursor' query param"


async def test_page_size_is_clamped(client: httpx.AsyncClient) -> None:
    response = await client.get("/v2/triggers", params={"pageSize": "1000"})
    assert response.json()["cursor"]["pageSize"] == 100
    default = await client.get("/v2/triggers", params={"pageSize": "0"})
    assert default.json()["cursor"]["pageSize"] == 15


async def test_upstream_cursor_is_accepted(client: httpx.AsyncClient, helpers: Any) -> None:
    """The example cursor of BEHAVIOUR.md 2.1, as upstream encodes it."""
    upstream = (
        "eyJvZmZzZXQiOjE1LCJvcmRlciI6MCwicGFnZVNpemUiOjE1LCJmaWx0ZXJzIjp7"
        "IldvcmtmbG93SUQiOiIiLCJSdW5uaW5nIjpmYWxzZX19"
    )
    response = await client.get("/v2/instances", params={"cursor": upstream})
    assert response.status_code == 200
    assert response.json()["cursor"]["pageSize"] == 15


async def test_metrics(client: httpx.AsyncClient, helpers: Any) -> None:
    workflow = await helpers.create_workflow(client)
    await client.get(f"/v2/workflows/{workflow['id']}")
    response = await client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert (
        'orchestration_http_requests_total{method="GET",route="/v2/workflows/{workflow_id}",'
        'status="200"}' in text
    )
    assert "orchestration_http_request_duration_seconds_bucket" in text
    assert workflow["id"] not in text  # templates, never ids


async def test_metrics_can_be_disabled(make_client: Any) -> None:
    async with make_client(metrics_enabled=False, relay=False) as client:
        assert (await client.get("/metrics")).status_code == 404


async def test_access_log_has_no_headers(make_client: Any) -> None:
    with structlog.testing.capture_logs() as logs:
        async with make_client(access_log=True, relay=False) as client:
            await client.get("/v2/workflows", headers={"Authorization": "Bearer s3cr3t-token"})
    lines = [entry for entry in logs if entry.get("event") == "http.request"]
    assert lines
    assert lines[-1]["route"] == "/v2/workflows"
    assert lines[-1]["status"] == 200
    assert "s3cr3t-token" not in repr(logs)
