"""Triggers and their occurrences."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from api import store
from api.deps import ServicesDep
from api.errors import not_found, validation
from api.pagination import page_query
from api.routes.common import Version, data, list_response, no_content
from api.serialize import occurrence_json, trigger_json
from triggers import InvalidTrigger, Trigger, compile_trigger


def _trigger_from_body(body: Any) -> Trigger:
    if not isinstance(body, dict):
        raise validation("validating data: body must be a JSON object")
    for key in ("name", "event", "version", "workflowID", "filter"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise validation(f"validating data: '{key}' must be a string")
    variables = body.get("vars") or {}
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise validation("validating data: 'vars' must map names to expression strings")
    return Trigger(
        id=str(uuid.uuid4()),
        workflow_id=body.get("workflowID") or "",
        event=body.get("event") or "",
        name=body.get("name") or "",
        version=body.get("version"),
        filter=body.get("filter"),
        vars=variables,
    )


def build_router(version: Version) -> APIRouter:
    router = APIRouter()

    @router.get("/triggers")
    async def list_triggers(
        services: ServicesDep,
        name: str = "",
        cursor: str | None = None,
        pageSize: str | None = None,
    ) -> Response:
        query = page_query(cursor, pageSize, {"Name": name})
        filters = query.filters if isinstance(query.filters, dict) else {}
        async with services.db.connect() as conn:
            rows = await store.list_triggers(
                conn,
                name=str(filters.get("Name") or ""),
                offset=query.offset,
                limit=query.page_size + 1,
            )
        items = [trigger_json(r) for r in rows]
        if version is Version.V1:
            # Upstream v1 pages silently too: `data` only, at most one page.
            return data(items[: query.page_size])
        return list_response(version, query, items)

    @router.post("/triggers")
    async def create_trigger(request: Request, services: ServicesDep) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError as exc:
            raise validation(f"unmarshalling json body: {exc}") from None
        trigger = _trigger_from_body(body)
        try:
            compile_trigger(trigger)
        except InvalidTrigger as exc:
            raise validation(f"validating data: {exc.message}") from None
        async with services.db.begin() as conn:
            workflow = await store.get_workflow(conn, trigger.workflow_id)
            if workflow is None or workflow["deleted_at"] is not None:
                raise not_found("workflow does not exists")
            row = await store.insert_trigger(conn, trigger, topic=services.topics.definitions)
        if services.relay is not None:
            services.relay.notify()
        return data(trigger_json(row), 201)

    @router.get("/triggers/{trigger_id}")
    async def get_trigger(trigger_id: str, services: ServicesDep) -> Response:
        async with services.db.connect() as conn:
            row = await store.get_trigger(conn, trigger_id)
        if row is None:
            raise not_found("Trigger not found")
        return data(trigger_json(row))

    @router.delete("/triggers/{trigger_id}")
    async def delete_trigger(trigger_id: str, services: ServicesDep) -> Response:
        async with services.db.begin() as conn:
            deleted = await store.delete_trigger(
                conn, trigger_id, topic=services.topics.definitions
            )
        if not deleted:
            raise not_found("Trigger not found")
        if services.relay is not None:
            services.relay.notify()
        return no_content()

    @router.get("/triggers/{trigger_id}/occurrences")
    async def list_occurrences(
        trigger_id: str,
        services: ServicesDep,
        cursor: str | None = None,
        pageSize: str | None = None,
    ) -> Response:
        query = (
            page_query(cursor, pageSize, {"TriggerID": trigger_id})
            if version is Version.V2
            else None
        )
        if query is not None and isinstance(query.filters, dict):
            # As upstream: with a cursor, the trigger id travels inside it.
            trigger_id = str(query.filters.get("TriggerID") or trigger_id)
        async with services.db.connect() as conn:
            rows = await store.list_occurrences(
                conn,
                trigger_id,
                offset=query.offset if query else 0,
                limit=query.page_size + 1 if query else None,
            )
        return list_response(version, query, [occurrence_json(r, i) for r, i in rows])

    return router
