"""The FastAPI application: v1 at the root, v2 under /v2, both also under
/api/orchestration (the Formance gateway prefix, so SDKs pointed at a stack
URL reach this service directly)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from api.deps import Services
from api.errors import install_error_handlers
from api.middleware import BodySizeLimit, StripTrailingSlash
from api.outbox import OutboxRelay
from api.routes import info, instances, triggers, workflows
from api.routes.common import Version
from api.settings import ApiSettings
from engine.db import create_db_engine, migrate
from engine.settings import DatabaseSettings
from streams import KafkaSettings, Topics, ensure_topics

log = structlog.get_logger(__name__)

GATEWAY_PREFIX = "/api/orchestration"


def create_app(
    settings: ApiSettings | None = None,
    database: DatabaseSettings | None = None,
    kafka: KafkaSettings | None = None,
    *,
    relay: bool = True,
) -> FastAPI:
    settings = settings or ApiSettings()
    database = database or DatabaseSettings()
    kafka = kafka or KafkaSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await asyncio.to_thread(migrate, database.database_url.get_secret_value())
        db = create_db_engine(database)
        topics = Topics.from_settings(kafka)
        outbox: OutboxRelay | None = None
        if relay:
            await ensure_topics(kafka, topics)
            outbox = OutboxRelay(db, kafka)
            await outbox.start()
        app.state.services = Services(settings=settings, db=db, topics=topics, relay=outbox)
        log.info("api.started", version=settings.version)
        try:
            yield
        finally:
            if outbox is not None:
                await outbox.stop()
            await db.dispose()
            log.info("api.stopped")

    app = FastAPI(
        title="orchestration",
        version=settings.version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    for prefix in ("", GATEWAY_PREFIX):
        app.include_router(info.build_router(), prefix=prefix)
        app.include_router(info.build_router(), prefix=f"{prefix}/v2")
        for version, sub in ((Version.V1, ""), (Version.V2, "/v2")):
            for module in (workflows, triggers, instances):
                app.include_router(module.build_router(version), prefix=f"{prefix}{sub}")
    app.add_middleware(StripTrailingSlash)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    return app
