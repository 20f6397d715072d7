"""Commands to instances: run a workflow, deliver an event, abort.

The API validates, answers the 404s, and hands the engine a command through
the transactional outbox (`engine.commands`, keyed by instance id). What the
command then does to the run is the engine's business.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from api import store
from api.bodies import decode_json, json_body, object_body, string_map
from api.deps import Services, services_of
from api.errors import not_found, validation
from api.routes.common import data, no_content, truthy
from api.routes.instances import paused_of
from api.serialize import instance_json
from engine import commands

# `wait=true` polls the projection: first after 50 ms (a workflow of noop
# stages ends that fast), backing off to 500 ms so one waiter costs at most
# two queries a second.
_FIRST_POLL_S = 0.05
_MAX_POLL_S = 0.5


def _content_length(request: Request) -> int:
    value = request.headers.get("content-length", "")
    return int(value) if value.isascii() and value.isdigit() else 0


async def _wait_for_termination(
    services: Services, instance_id: str, request: Request
) -> dict[str, Any]:
    """The full instance once terminated, or as it stands at the bound, on
    shutdown, or when the client went away."""
    deadline = time.monotonic() + services.settings.wait_timeout
    pause = _FIRST_POLL_S
    while True:
        async with services.reader.connect() as conn:
            found = await store.get_instance(conn, instance_id)
            if found is None:  # pragma: no cover - rows are never deleted
                raise not_found("Instance not found")
            row, workflow, statuses = found
            paused = await paused_of(conn, instance_id, statuses)
        remaining = deadline - time.monotonic()
        if (
            row["terminated"]
            or remaining <= 0
            or services.stopping.is_set()
            or await request.is_disconnected()
        ):
            # A held activity (14.4) leaves the instance running: the wait goes on.
            return instance_json(row, workflow=workflow, statuses=statuses, paused=paused)
        await asyncio.sleep(min(pause, remaining))
        pause = min(pause * 2, _MAX_POLL_S)


def build_router(prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix)

    @router.post("/workflows/{workflow_id}/instances")
    async def run_workflow(workflow_id: str, request: Request) -> Response:
        services = services_of(request)
        wait = request.query_params.get("wait")
        variables: dict[str, str] = {}
        # Upstream reads the body only when Content-Length is positive.
        if _content_length(request) > 0:
            variables = string_map(decode_json(await request.body()), "validating data")
        async with services.db.begin() as conn:
            workflow = await store.get_workflow(conn, workflow_id)
            if workflow is None:
                raise not_found("Workflow not found")
            row = await store.insert_instance(
                conn,
                instance_id=str(uuid.uuid4()),
                workflow=workflow,
                variables=variables,
                command_id=str(uuid.uuid4()),
                topic=services.topics.commands,
            )
        services.published()
        if not truthy(wait):
            return data(instance_json(row), 201)
        return data(await _wait_for_termination(services, row["id"], request), 201)

    @router.post("/instances/{instance_id}/events")
    async def send_event(instance_id: str, request: Request) -> Response:
        services = services_of(request)
        body = await json_body(request)
        event = object_body({} if body is None else body, "validating data")
        name = event.get("name")
        if not isinstance(name, str) or not name:
            raise validation("validating data: missing event name")
        async with services.db.begin() as conn:
            row = await store.get_instance_row(conn, instance_id)
            if row is None:
                raise not_found("Instance not found")
            if row["terminated"]:
                raise validation("workflow execution already completed")
            command = commands.DeliverEvent(
                id=str(uuid.uuid4()), instance_id=instance_id, name=name
            )
            await store.send_command(conn, command, topic=services.topics.commands)
        services.published()
        return no_content()

    @router.put("/instances/{instance_id}/abort")
    async def abort(instance_id: str, request: Request) -> Response:
        services = services_of(request)
        async with services.db.begin() as conn:
            row = await store.get_instance_row(conn, instance_id)
            if row is None:
                raise not_found("Instance not found")
            if row["terminated"]:
                return no_content()  # aborting a finished instance is a no-op
            command = commands.AbortInstance(id=str(uuid.uuid4()), instance_id=instance_id)
            await store.send_command(conn, command, topic=services.topics.commands)
        services.published()
        return no_content()

    return router
