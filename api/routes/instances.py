"""Workflow instances: read and list (running them is the engine's job)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import store
from api.deps import ServicesDep
from api.errors import not_found
from api.pagination import page_query
from api.routes.common import Version, data, list_response
from api.serialize import instance_json


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def build_router(version: Version) -> APIRouter:
    router = APIRouter()

    @router.get("/instances")
    async def list_instances(
        services: ServicesDep,
        workflowID: str = "",
        running: str | None = None,
        cursor: str | None = None,
        pageSize: str | None = None,
    ) -> Response:
        filters = {"WorkflowID": workflowID, "Running": _truthy(running)}
        query = page_query(cursor, pageSize, filters) if version is Version.V2 else None
        if query is not None and isinstance(query.filters, dict):
            filters = query.filters
        async with services.db.connect() as conn:
            rows = await store.list_instances(
                conn,
                workflow_id=str(filters.get("WorkflowID") or ""),
                running=bool(filters.get("Running")),
                offset=query.offset if query else 0,
                limit=query.page_size + 1 if query else None,
            )
        return list_response(version, query, [instance_json(r, workflow=w) for r, w in rows])

    @router.get("/instances/{instance_id}")
    async def get_instance(instance_id: str, services: ServicesDep) -> Response:
        async with services.db.connect() as conn:
            found = await store.get_instance(conn, instance_id)
        if found is None:
            raise not_found("Instance not found")
        row, workflow, statuses = found
        return data(instance_json(row, workflow=workflow, statuses=statuses))

    return router
