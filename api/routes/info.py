"""Health and build information (no authentication, no envelope)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ServicesDep


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/_healthcheck")
    async def healthcheck() -> dict[str, Any]:
        return {"default": "OK"}

    @router.get("/_info")
    async def info(services: ServicesDep) -> dict[str, Any]:
        return {"version": services.settings.version}

    return router
