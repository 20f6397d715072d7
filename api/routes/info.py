"""Health, build information and metrics: no authentication, no envelope."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.deps import services_of


def build_router(prefix: str = "", *, health: bool) -> APIRouter:
    router = APIRouter(prefix=prefix)

    if health:

        @router.get("/_healthcheck")
        async def healthcheck() -> dict[str, Any]:
            return {"default": "OK"}

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
