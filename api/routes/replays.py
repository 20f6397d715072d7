"""`POST /v2/triggers/{id}/replay` and its status (an extension, not upstream)."""

from __future__ import annotations

from collections.abc import Collection

from fastapi import APIRouter, Request, Response

from api import store
from api.bodies import json_body, object_body
from api.deps import services_of
from api.errors import conflict, not_found, validation
from api.replays import ReplayRunning
from api.routes.common import data
from engine import ReplayError, WorkflowDefinition, run_replay
from engine import ReplayProgress as Progress
from engine import ReplayWindow as Window
from streams import format_time
from triggers import Trigger


def build_router(prefix: str = "/v2") -> APIRouter:
    router = APIRouter(prefix=prefix)

    @router.post("/triggers/{trigger_id}/replay")
    async def start_replay(trigger_id: str, request: Request) -> Response:
        services = services_of(request)
        body = object_body(await json_body(request), "validating data")
        try:
            window = Window.parse(body.get("from"), body.get("to"))
        except ReplayError as exc:
            raise validation(f"validating data: {exc}") from None
        async with services.reader.connect() as conn:
            row = await store.get_trigger(conn, trigger_id)
            if row is None:
                raise not_found("Trigger not found")
            wf = await store.get_workflow(conn, row["workflow_id"])
        if wf is None:
            raise not_found("workflow does not exists")
        trigger = Trigger(
            id=row["id"],
            workflow_id=row["workflow_id"],
            event=row["event"],
            name=row["name"] or "",
            version=row["version"],
            filter=row["filter"],
            vars=row["vars"] or {},
        )
        workflow = WorkflowDefinition(
            id=wf["id"], config=wf["config"], created_at=format_time(wf["created_at"])
        )
        kafka = services.kafka

        async def known(ids: Collection[str]) -> set[str]:
            async with services.reader.connect() as conn:
                return await store.known_occurrences(conn, ids)

        async def run(progress: Progress) -> None:
            await run_replay(kafka, trigger, workflow, progress, fetch=services.fetch, known=known)

        try:
            progress = services.replays.start(trigger_id, window, run)
        except ReplayRunning as exc:
            raise conflict(f"replay {exc.replay_id} of this trigger is still running") from None
        return data(progress.to_json(), 202)

    @router.get("/triggers/{trigger_id}/replays/{replay_id}")
    async def get_replay(trigger_id: str, replay_id: str, request: Request) -> Response:
        progress = services_of(request).replays.get(trigger_id, replay_id)
        if progress is None:
            raise not_found("Replay not found")
        return data(progress.to_json())

    return router
