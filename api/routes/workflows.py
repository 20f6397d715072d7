"""Workflow definitions: create, read, list."""

from __future__ import annotations

import json
import uuid
from typing import Any

import yaml
from fastapi import APIRouter, Request, Response

from api import store
from api.deps import ServicesDep
from api.errors import not_found, validation
from api.pagination import page_query
from api.routes.common import Version, data, list_response
from api.serialize import workflow_json
from engine.config import WorkflowConfigError, parse_workflow


def decode_workflow_body(body: bytes, content_type: str | None) -> Any:
    """JSON, or YAML when Content-Type is exactly `text/vnd.yaml` (as upstream)."""
    if content_type == "text/vnd.yaml":
        try:
            return yaml.safe_load(body)
        except yaml.YAMLError as exc:
            raise validation(f"unmarshalling yaml: {exc}") from None
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise validation(f"unmarshalling json body: {exc}") from None


def build_router(version: Version) -> APIRouter:
    router = APIRouter()

    @router.get("/workflows")
    async def list_workflows(
        services: ServicesDep, cursor: str | None = None, pageSize: str | None = None
    ) -> Response:
        query = page_query(cursor, pageSize, None) if version is Version.V2 else None
        async with services.db.connect() as conn:
            rows = await store.list_workflows(
                conn,
                offset=query.offset if query else 0,
                limit=query.page_size + 1 if query else None,
            )
        return list_response(version, query, [workflow_json(r) for r in rows])

    @router.post("/workflows")
    async def create_workflow(request: Request, services: ServicesDep) -> Response:
        raw = decode_workflow_body(await request.body(), request.headers.get("content-type"))
        try:
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
        if services.relay is not None:
            services.relay.notify()
        return data(workflow_json(row), 201)

    @router.get("/workflows/{workflow_id}")
    async def get_workflow(workflow_id: str, services: ServicesDep) -> Response:
        async with services.db.connect() as conn:
            row = await store.get_workflow(conn, workflow_id)
        if row is None:
            raise not_found("Workflow not found")
        return data(workflow_json(row))

    return router
