"""Workflow definitions: create, read, list, soft delete."""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Request, Response

from api import store
from api.bodies import workflow_body
from api.deps import services_of
from api.errors import not_found, validation
from api.pagination import page_query
from api.routes.common import Version, data, list_response, no_content
from api.serialize import workflow_json
from engine import WorkflowConfigError, parse_workflow

# The syntax upstream's validator checks on DELETE (the canonical 8-4-4-4-12 form).
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def build_router(version: Version, prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix)

    @router.get("/workflows")
    async def list_workflows(
        request: Request,
    ) -> Response:
        services = services_of(request)
        params = request.query_params
        query = (
            page_query(params.get("cursor"), params.get("pageSize"), None)
            if version is Version.V2
            else None
        )
        async with services.reader.connect() as conn:
            rows = await store.list_workflows(
                conn,
                offset=query.offset if query else 0,
                limit=query.limit if query else None,
            )
        return list_response(version, query, [workflow_json(r) for r in rows])

    @router.post("/workflows")
    async def create_workflow(request: Request) -> Response:
        services = services_of(request)
        raw = await workflow_body(request)
        try:
            # Every stage checked fully now: upstream only finds most of these
            # mistakes when an instance reaches the stage (and answers 500).
            workflow = parse_workflow(raw)
        except WorkflowConfigError as exc:
            raise validation(str(exc)) from None
        async with services.db.begin() as conn:
            row = await store.insert_workflow(
                conn,
                workflow_id=str(uuid.uuid4()),
                config=workflow.raw,
                topic=services.topics.definitions,
            )
        services.published()
        return data(workflow_json(row), 201)

    @router.get("/workflows/{workflow_id}")
    async def get_workflow(workflow_id: str, request: Request) -> Response:
        services = services_of(request)
        async with services.reader.connect() as conn:
            row = await store.get_workflow(conn, workflow_id)
        if row is None:
            raise not_found("Workflow not found")
        return data(workflow_json(row))

    @router.delete("/workflows/{workflow_id}")
    async def delete_workflow(workflow_id: str, request: Request) -> Response:
        services = services_of(request)
        if _UUID.fullmatch(workflow_id) is None:
            raise validation("invalid workflow id: not a UUID")
        async with services.db.begin() as conn:
            deleted = await store.delete_workflow(
                conn, workflow_id, topic=services.topics.definitions
            )
        if not deleted:
            raise not_found("Workflow not found")
        services.published()
        return no_content()

    return router
