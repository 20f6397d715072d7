"""The worker's HTTP side: `/healthz`, `/readyz` and `/metrics` on one port.

- `/healthz`: 200 while every supervised loop runs; 503 naming the dead one
  (the process is exiting by then, but an orchestrator polling in between
  must not see OK).
- `/readyz`: 200 once the trigger index has loaded the definitions topic up
  to its end offsets at start (`DefinitionsReader.ready`) and the loops run;
  503 before, so a rollout waits for a worker that can match.
- `/metrics`: the Prometheus registry of the process.

Served by uvicorn on the worker's event loop; the process's own SIGTERM
handling stays in charge (uvicorn's signal capture is switched off).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator, Sequence

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streams import codec
from streams.lifecycle import Loop


def _json(body: object, status: int) -> Response:
    return Response(codec.dumps(body), status_code=status, media_type="application/json")


def _dead(loops: Sequence[Loop]) -> dict[str, str]:
    return {
        loop.name: str(loop.death() or "stopped")
        for loop in loops
        if loop.started and not loop.alive
    }


def probe_app(loops: Callable[[], Sequence[Loop]], ready: asyncio.Event) -> Starlette:
    async def healthz(request: Request) -> Response:
        dead = _dead(loops())
        return (
            _json({"status": "down", "loops": dead}, 503) if dead else _json({"status": "ok"}, 200)
        )

    async def readyz(request: Request) -> Response:
        dead = _dead(loops())
        if dead:
            return _json({"status": "down", "loops": dead}, 503)
        if not ready.is_set():
            return _json({"status": "loading definitions"}, 503)
        return _json({"status": "ready"}, 200)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the worker's own handlers decide when to stop


class ProbeServer:
    """The probe app on 127.0.0.1:`port`, as a supervised loop."""

    def __init__(
        self, port: int, loops: Callable[[], Sequence[Loop]], ready: asyncio.Event
    ) -> None:
        config = uvicorn.Config(
            probe_app(loops, ready),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        self._server = _Server(config)
        self.loop = Loop("probes", self._server.serve)

    async def start(self) -> None:
        self.loop.start()
        while not self._server.started:
            if not self.loop.alive:  # the port is taken, say
                await self.loop.task
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        await self.loop.stop()
