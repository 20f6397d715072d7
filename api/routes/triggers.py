"""Triggers, their occurrences, and the v2 test endpoint."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from api import store
from api.bodies import json_body, object_body
from api.deps import services_of
from api.errors import not_found, validation
from api.pagination import page_query
from api.routes.common import Version, data, list_response, no_content
from api.serialize import occurrence_json, trigger_json
from api.trigger_test import evaluate_test
from triggers import InvalidTrigger, Trigger, compile_trigger, expr


def _trigger_from_body(value: Any) -> Trigger:
    body = object_body(value, "validating data")
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


def build_router(version: Version, prefix: str = "") -> APIRouter:
    router = APIRouter(prefix=prefix)

    @router.get("/triggers")
    async def list_triggers(
        request: Request,
    ) -> Response:
        services = services_of(request)
        params = request.query_params
        # v1 pages too (upstream): same query, but only `data` is returned.
        query = page_query(
            params.get("cursor"), params.get("pageSize"), {"Name": params.get("name", "")}
        )
        async with services.reader.connect() as conn:
            rows = await store.list_triggers(
                conn, name=query.filter("Name", str, ""), offset=query.offset, limit=query.limit
            )
        items = [trigger_json(r) for r in rows]
        if version is Version.V1:
            return data(items[: query.page_size])
        return list_response(version, query, items)

    @router.post("/triggers")
    async def create_trigger(request: Request) -> Response:
        services = services_of(request)
        trigger = _trigger_from_body(await json_body(request))
        try:
            compile_trigger(trigger)
        except InvalidTrigger as exc:
            raise validation(f"validating data: {exc.message}") from None
        async with services.db.begin() as conn:
            if await store.get_workflow(conn, trigger.workflow_id) is None:
                raise not_found("workflow does not exists")
            row = await store.insert_trigger(conn, trigger, topic=services.topics.definitions)
        services.published()
        return data(trigger_json(row), 201)

    @router.get("/triggers/{trigger_id}")
    async def get_trigger(trigger_id: str, request: Request) -> Response:
        services = services_of(request)
        async with services.reader.connect() as conn:
            row = await store.get_trigger(conn, trigger_id)
        if row is None:
            raise not_found("Trigger not found")
        return data(trigger_json(row))

    @router.delete("/triggers/{trigger_id}")
    async def delete_trigger(trigger_id: str, request: Request) -> Response:
        services = services_of(request)
        async with services.db.begin() as conn:
            deleted = await store.delete_trigger(
                conn, trigger_id, topic=services.topics.definitions
            )
        if not deleted:
            raise not_found("Trigger not found")
        services.published()
        return no_content()

    @router.get("/triggers/{trigger_id}/occurrences")
    async def list_occurrences(
        trigger_id: str,
        request: Request,
    ) -> Response:
        services = services_of(request)
        params = request.query_params
        query = None
        if version is Version.V2:
            query = page_query(
                params.get("cursor"), params.get("pageSize"), {"TriggerID": trigger_id}
            )
            # As upstream: with a cursor, the trigger id travels inside it.
            trigger_id = query.filter("TriggerID", str, trigger_id)
        async with services.reader.connect() as conn:
            rows = await store.list_occurrences(
                conn,
                trigger_id,
                offset=query.offset if query else 0,
                limit=query.limit if query else None,
            )
        return list_response(version, query, [occurrence_json(r, i) for r, i in rows])

    if version is Version.V2:

        @router.post("/triggers/{trigger_id}/test")
        async def test_trigger(trigger_id: str, request: Request) -> Response:
            services = services_of(request)
            try:
                # Numbers as floats, exactly as the matcher sees an event
                # (and, as there, vars print integers beyond 2^53 exactly).
                exact = expr.ExactInts()
                payload = expr.decode_event(await request.body(), exact)
            except ValueError as exc:
                raise validation(f"unmarshalling json body: {exc}") from None
            object_body(payload, "validating data")
            async with services.reader.connect() as conn:
                row = await store.get_trigger(conn, trigger_id)
            if row is None:
                raise not_found("Trigger not found")
            result = await asyncio.to_thread(
                evaluate_test, row["filter"], row["vars"] or {}, payload, services.fetch, exact
            )
            return data(result)

    return router
