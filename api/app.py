"""The FastAPI application: v1 at the root, v2 under /v2, both also under
/api/orchestration (the Formance gateway prefix, so SDKs pointed at a stack
URL reach this service directly).

Request path, outermost first: path folding (trailing slash, gateway
prefix, NUL refusal), telemetry (access log and metrics, which read the
matched route template), body size bound, the catch-all that turns an
escaped exception into an `INTERNAL` envelope, then FastAPI's routing, where
every v1/v2 route depends on `authenticate` when auth is on.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import Depends, FastAPI

from api.auth import Authenticator, authenticate
from api.database import use_fast_json, warm_pool
from api.deps import Services
from api.errors import InternalErrors, install_error_handlers
from api.middleware import GATEWAY_PREFIX, BodySizeLimit, BodyTooLarge, NormalisePath
from api.outbox import OutboxRelay
from api.routes import info, instances, replays, resume, runs, triggers, workflows
from api.routes.common import Version
from api.settings import ApiSettings
from api.telemetry import Metrics, RequestTelemetry
from engine import DatabaseSettings, StackSettings, create_db_engine, link_fetcher, migrate
from streams import KafkaSettings, Topics, ensure_topics
from streams.lifecycle import Loop, first_death

log = structlog.get_logger(__name__)


def create_app(
    settings: ApiSettings | None = None,
    database: DatabaseSettings | None = None,
    kafka: KafkaSettings | None = None,
    *,
    relay: bool = True,
    stack: StackSettings | None = None,
) -> FastAPI:
    settings = settings or ApiSettings()
    stack = stack or StackSettings()
    database = database or DatabaseSettings()
    kafka = kafka or KafkaSettings()
    # Fail at construction, not on the first request, when auth is misconfigured.
    authenticator = Authenticator(settings) if settings.auth_enabled else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await asyncio.to_thread(migrate, database.database_url.get_secret_value())
        db = create_db_engine(database)
        use_fast_json(db)
        await warm_pool(db, database.database_pool_size)
        topics = Topics.from_settings(kafka)
        outbox: OutboxRelay | None = None
        if relay:
            await ensure_topics(kafka, topics)
            outbox = OutboxRelay(db, kafka, parked=app.state.metrics.outbox_parked)
            await outbox.start()
            watchdog = asyncio.create_task(_exit_when_dead(app, outbox.loop))
        services = Services(
            settings=settings,
            db=db,
            topics=topics,
            relay=outbox,
            auth=authenticator,
            # link() in the test endpoint reads with the worker's settings.
            fetch=link_fetcher(stack),
            kafka=kafka,
        )
        app.state.services = services
        # What exists now lives as long as the process: keep it out of the
        # collector's full passes (fewer long pauses under load).
        gc.collect()
        gc.freeze()
        log.info("api.started", version=settings.version, auth=authenticator is not None)
        try:
            yield
        finally:
            # Long polls answer now, so the server's drain is not held by them.
            services.stopping.set()
            await services.replays.aclose()
            if outbox is not None:
                watchdog.cancel()
                await outbox.stop()
            if authenticator is not None:
                await authenticator.aclose()
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
    app.state.metrics = Metrics()
    install_error_handlers(app)
    if settings.metrics_enabled:
        app.include_router(info.metrics_router())
    # No dependency at all when auth is off: resolving one costs ~0.2 ms.
    secured = [Depends(authenticate)] if authenticator is not None else []
    # Routers carry their full prefix themselves, so each route's path is its
    # whole template (what metrics and access logs report). The gateway prefix
    # is folded away by NormalisePath.
    app.include_router(info.build_router(health=True))
    # Upstream lacks /v2/_info although its OpenAPI file and SDKs call it.
    app.include_router(info.build_router("/v2", health=False))
    for version, prefix in ((Version.V1, ""), (Version.V2, "/v2")):
        for router in (
            workflows.build_router(version, prefix),
            runs.build_router(prefix),
            resume.build_router(prefix),
            instances.build_router(version, prefix),
            triggers.build_router(version, prefix),
        ):
            app.include_router(router, dependencies=secured)
    # An extension (not upstream): replay past events into one trigger.
    app.include_router(replays.build_router("/v2"), dependencies=secured)
    # add_middleware wraps: the last added is the outermost.
    app.add_middleware(InternalErrors, passthrough=(BodyTooLarge,))
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestTelemetry, metrics=app.state.metrics, access_log=settings.access_log)
    app.add_middleware(NormalisePath)
    return app


async def _exit_when_dead(app: FastAPI, loop: Loop) -> None:
    """A dead relay leaves every later definition and command in Postgres:
    say so once, and stop the server so a supervisor restarts the process.
    `orchestration api` sets `app.state.request_exit` (uvicorn drains the
    requests in flight, then the CLI exits 1); any other host gets SIGTERM."""
    died = await first_death([loop])
    log.error("api.loop_died", loop=died.loop, error=str(died))
    app.state.fatal = died
    request_exit = getattr(app.state, "request_exit", None)
    if request_exit is not None:
        request_exit()
    else:
        os.kill(os.getpid(), signal.SIGTERM)


__all__ = ["GATEWAY_PREFIX", "create_app"]
