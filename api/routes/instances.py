"""Workflow instances: list, read, histories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from api import store
from api.deps import services_of
from api.errors import not_found
from api.pagination import page_query
from api.routes.common import Version, data, list_response, truthy
from api.serialize import (
    instance_history_json,
    instance_json,
    stage_history_json,
    workflow_json,
)
from api.store._common import Row

# Stage numbers are Postgres integers; anything larger never started.
_MAX_STAGE = 2**31 - 1


async def paused_of(
    conn: AsyncConnection, instance_id: str, statuses: Sequence[Row]
) -> Sequence[Row]:
    """Held activities, read only when a stage is unfinished (a finished
    instance, the common read, costs no extra query)."""
    if any(s["terminated_at"] is None for s in statuses):
        return await store.list_paused_activities(conn, instance_id)
    return ()


def build_router(version: Version, prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix)

    @router.get("/instances")
    async def list_instances(
        request: Request,
    ) -> Response:
        services = services_of(request)
        params = request.query_params
        filters = {
            "WorkflowID": params.get("workflowID", ""),
            "Running": truthy(params.get("running")),
        }
        query = (
            page_query(params.get("cursor"), params.get("pageSize"), filters)
            if version is Version.V2
            else None
        )
        if query is not None:
            filters = {
                "WorkflowID": query.filter("WorkflowID", str, ""),
                "Running": query.filter("Running", bool, False),
            }
        async with services.reader.connect() as conn:
            rows = await store.list_instances(
                conn,
                workflow_id=str(filters["WorkflowID"]),
                running=bool(filters["Running"]),
                offset=query.offset if query else 0,
                limit=query.limit if query else None,
            )
        # Every item embeds its workflow; most lists hold few distinct ones.
        workflows: dict[str, dict[str, Any]] = {}
        items = []
        for row, workflow in rows:
            embedded = workflows.get(workflow["id"])
            if embedded is None:
                embedded = workflows[workflow["id"]] = workflow_json(workflow)
            items.append(instance_json(row, workflow_json_=embedded))
        return list_response(version, query, items)

    @router.get("/instances/{instance_id}")
    async def get_instance(instance_id: str, request: Request) -> Response:
        services = services_of(request)
        async with services.reader.connect() as conn:
            found = await store.get_instance(conn, instance_id)
            if found is None:
                raise not_found("Instance not found")
            row, workflow, statuses = found
            paused = await paused_of(conn, instance_id, statuses)
        return data(instance_json(row, workflow=workflow, statuses=statuses, paused=paused))

    @router.get("/instances/{instance_id}/history")
    async def instance_history(instance_id: str, request: Request) -> Response:
        services = services_of(request)
        async with services.reader.connect() as conn:
            if await store.get_instance_row(conn, instance_id) is None:
                raise not_found("Instance not found")
            rows = await store.list_instance_history(conn, instance_id)
        return data([instance_history_json(r) for r in rows])

    @router.get("/instances/{instance_id}/stages/{number}/history")
    async def stage_history(instance_id: str, number: str, request: Request) -> Response:
        services = services_of(request)
        try:
            stage = int(number, 10)
        except ValueError:
            # Upstream's router does not match the path: 404 (with an envelope here).
            raise not_found(f"invalid stage number '{number[:32]}'") from None
        async with services.reader.connect() as conn:
            if await store.get_instance_row(conn, instance_id) is None:
                raise not_found("Instance not found")
            if not 0 <= stage <= _MAX_STAGE or not await store.stage_started(
                conn, instance_id, stage
            ):
                raise not_found(f"stage {stage} of the instance has not started")
            rows = await store.list_stage_history(conn, instance_id, stage)
        return data([stage_history_json(r) for r in rows])

    return router
