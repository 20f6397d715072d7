"""API fixtures: the app in-process on real Postgres and Kafka, and the
OpenAPI conformance check applied to every response the tests receive.

`api_client` is module-scoped (one database per module, see tests/conftest.py);
tests create their own workflows and triggers, so they never depend on what
another test left behind except where a module says so.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import uvicorn
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from api import ApiSettings, create_app
from engine.settings import DatabaseSettings
from engine.stack import StackSettings
from streams import KafkaSettings

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"
if not REFERENCE.is_dir():  # CI clones main with shared/ beside it
    REFERENCE = Path("/work/shared/reference")
GATEWAY_PREFIX = "/api/orchestration"


# -- OpenAPI conformance ------------------------------------------------------


def _nullable_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` is not JSON Schema: spell it as a type union."""
    if isinstance(node, dict):
        out = {k: _nullable_to_jsonschema(v) for k, v in node.items()}
        if out.pop("nullable", False) and "type" in out:
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable_to_jsonschema(v) for v in node]
    return node


@dataclass
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    responses: dict[str, Any]


@dataclass
class Conformance:
    """Validates a response body against the reference schema of its version."""

    operations: list[Operation] = field(default_factory=list)
    registry: Registry[Any] = field(default_factory=Registry)
    checked: int = 0

    @classmethod
    def load(cls) -> Conformance:
        self = cls()
        for name in ("orchestration-v1.openapi.yaml", "orchestration-v2.openapi.yaml"):
            spec = _nullable_to_jsonschema(yaml.safe_load((REFERENCE / name).read_text()))
            uri = f"urn:{name}"
            self.registry = self.registry.with_resource(
                uri, Resource(contents=spec, specification=DRAFT4)
            )
            for template, item in spec["paths"].items():
                regex = re.sub(r"\{[^}]+\}", "[^/]+", template)
                pattern = re.compile(f"^{regex}/?$")
                for method, op in item.items():
                    if method == "parameters":
                        continue
                    responses = {
                        status: _response_schema(spec, uri, resp)
                        for status, resp in op["responses"].items()
                    }
                    self.operations.append(Operation(method.upper(), template, pattern, responses))
        return self

    def operation(self, method: str, path: str) -> Operation | None:
        if path.startswith(GATEWAY_PREFIX):
            path = path[len(GATEWAY_PREFIX) :]
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    def check(self, method: str, path: str, status: int, body: bytes) -> None:
        op = self.operation(method, path)
        if op is None or status == 413:
            return  # not a documented operation (health, metrics) or the size guard
        key = str(status) if str(status) in op.responses else "default"
        assert key in op.responses, f"{method} {path}: undocumented status {status}"
        schema = op.responses[key]
        if schema is None:
            assert status in (204, 401) or not body, f"{method} {path}: unexpected body"
            return
        if status in (401, 405):
            assert body == b"", f"{method} {path}: {status} must have an empty body"
            return
        validator = jsonschema.Draft4Validator(schema, registry=self.registry)
        instance = httpx.Response(status, content=body).json()
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        where = f"{method} {path} {status}"
        assert not errors, f"{where}: {errors[0].message} at {list(errors[0].path)}"
        self.checked += 1


def _response_schema(spec: dict[str, Any], uri: str, response: dict[str, Any]) -> Any:
    ref = response.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        response = spec["components"]["responses"][name]
    content = response.get("content") or {}
    media = content.get("application/json")
    if not media or "schema" not in media:
        return None
    schema = media["schema"]
    if "$ref" in schema:
        return {"$ref": f"{uri}{schema['$ref']}"}
    return _inline(schema, uri)


def _inline(schema: Any, uri: str) -> Any:
    """Rewrite relative refs of an inline schema to point into its document."""
    if isinstance(schema, dict):
        return {
            k: (f"{uri}{v}" if k == "$ref" and v.startswith("#") else _inline(v, uri))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_inline(v, uri) for v in schema]
    return schema


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE


@pytest.fixture(scope="session")
def conformance() -> Iterator[Conformance]:
    checker = Conformance.load()
    yield checker
    print(f"\nOpenAPI conformance: {checker.checked} response bodies validated")


# -- the app ------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Topics of this module only (the session factory is function-scoped)."""
    tag = uuid.uuid4().hex[:8]
    return KafkaSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"t{tag}.",
        topics=[f"t{tag}.ledger", f"t{tag}.payments"],
        consumer_group=f"orchestration-{tag}",
        partitions=2,
    )


def api_settings(**overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {"migrate_on_start": True, "wait_timeout": 1.0, "access_log": False}
    values.update(overrides)
    return ApiSettings(**values)


@pytest.fixture(scope="module")
def make_client(
    database_url: str, kafka_settings: KafkaSettings, conformance: Conformance
) -> Callable[..., Any]:
    """Factory: an async context manager yielding a client of a fresh app."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def make(
        *, relay: bool = True, check: bool = True, database: str | None = None, **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        stack_url = overrides.pop("stack_url", "")
        app = create_app(
            api_settings(**overrides),
            DatabaseSettings(database_url=database or database_url),
            kafka_settings,
            relay=relay,
            stack=StackSettings(stack_url=stack_url),
        )

        async def validate(response: httpx.Response) -> None:
            await response.aread()
            if check:
                conformance.check(
                    response.request.method,
                    response.request.url.path,
                    response.status_code,
                    response.content,
                )

        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://orchestration.test",
                event_hooks={"response": [validate]},
            ) as client:
                client.app = app  # type: ignore[attr-defined]
                yield client

    return make


@pytest.fixture(scope="module")
async def client(make_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


@pytest.fixture(scope="module")
def live_server(database_url: str, kafka_settings: KafkaSettings) -> Callable[..., Any]:
    """Factory: a real uvicorn server on 127.0.0.1 (free port) in a thread;
    yields its base URL and stops it on exit."""

    @contextmanager
    def serve(*, relay: bool = True, **overrides: Any) -> Iterator[str]:
        app = create_app(
            api_settings(**overrides),
            DatabaseSettings(database_url=database_url),
            kafka_settings,
            relay=relay,
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while not server.started:
                assert thread.is_alive(), "the API server died while starting"
                assert time.monotonic() < deadline, "the API server did not start"
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(30)
            sock.close()

    return serve


# -- data helpers ---------------------------------------------------------------

NOOP_WORKFLOW: dict[str, Any] = {"name": "noop", "stages": [{"noop": {}}]}
WAIT_WORKFLOW: dict[str, Any] = {"name": "wait", "stages": [{"wait_event": {"event": "go"}}]}


async def create_workflow(
    client: httpx.AsyncClient, config: dict[str, Any] | None = None, prefix: str = ""
) -> dict[str, Any]:
    response = await client.post(f"{prefix}/workflows", json=config or NOOP_WORKFLOW)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()["data"]
    return body


async def create_trigger(
    client: httpx.AsyncClient, workflow_id: str, prefix: str = "", **fields: Any
) -> dict[str, Any]:
    payload = {"event": "SAVED_PAYMENT", "workflowID": workflow_id, **fields}
    response = await client.post(f"{prefix}/triggers", json=payload)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()["data"]
    return body


@pytest.fixture
def helpers() -> Any:
    class Helpers:
        create_workflow = staticmethod(create_workflow)
        create_trigger = staticmethod(create_trigger)
        noop = NOOP_WORKFLOW
        wait = WAIT_WORKFLOW

    return Helpers
