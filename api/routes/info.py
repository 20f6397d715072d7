"""Health, build information and metrics: no authentication, no envelope."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.deps import services_of
from api.routes.common import json_response


def build_router(prefix: str = "", *, health: bool) -> APIRouter:
    router = APIRouter(prefix=prefix)

    if health:

        @router.get("/_healthcheck")
        async def healthcheck(request: Request) -> Response:
            # 503 once the outbox relay died: the API would accept definitions
            # that never reach the workers (the process is on its way out).
            relay = services_of(request).relay
            if relay is not None and relay.loop.started and not relay.loop.alive:
                died = relay.loop.death()
                reason = str(died) if died is not None else "stopped"
                return json_response({"default": "OK", "outbox-relay": reason}, 503)
            return json_response({"default": "OK"})

    @router.get("/_info")
    async def info(request: Request) -> dict[str, Any]:
        return {"version": services_of(request).settings.version}

    return router


def metrics_router() -> APIRouter:
    router = APIRouter()

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        response: Response = request.app.state.metrics.response()
        return response

    return router
