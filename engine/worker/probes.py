"""The worker's HTTP side: `/healthz`, `/readyz` and `/metrics` on one port.

- `/healthz` (liveness): 200 while every supervised loop runs and none is
  stalled; 503 naming the dead one (the process is exiting by then, but an
  orchestrator polling in between must not see OK), or the stalled one:
  records waiting and no batch completed for ORCHESTRATION_WORKER_STALL_SECONDS
  (`streams.batches.stalled_for`). A restart is what cures a wedged loop;
  for a dependency that is down it costs nothing (offsets are committed
  after the work) and the orchestrator's back-off bounds it.
- `/readyz`: 200 once the trigger index has loaded the definitions topic up
  to its end offsets at start (`DefinitionsReader.ready`) and `/healthz`
  would say 200; 503 before, so a rollout waits for a worker that can match.
  Lag alone (a worker progressing through a backlog) fails neither.
- `/metrics`: the Prometheus registry of the process (the lag gauges are
  refreshed first).

Served by uvicorn on the worker's event loop; the process's own SIGTERM
handling stays in charge (uvicorn's signal capture is switched off).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence

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


# Loop name -> why it is stalled; the callable also refreshes the lag gauges.
Stalls = Callable[[], Awaitable[Mapping[str, str]]]


async def _no_stalls() -> Mapping[str, str]:
    return {}


def probe_app(
    loops: Callable[[], Sequence[Loop]], ready: asyncio.Event, stalls: Stalls = _no_stalls
) -> Starlette:
    async def unhealthy() -> Response | None:
        dead = _dead(loops())
        if dead:
            return _json({"status": "down", "loops": dead}, 503)
        stalled = await stalls()
        if stalled:
            return _json({"status": "stalled", "loops": dict(stalled)}, 503)
        return None

    async def healthz(request: Request) -> Response:
        return await unhealthy() or _json({"status": "ok"}, 200)

    async def readyz(request: Request) -> Response:
        down = await unhealthy()
        if down is not None:
            return down
        if not ready.is_set():
            return _json({"status": "loading definitions"}, 503)
        return _json({"status": "ready"}, 200)

    async def metrics(request: Request) -> Response:
        await stalls()
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
        self,
        port: int,
        loops: Callable[[], Sequence[Loop]],
        ready: asyncio.Event,
        stalls: Stalls = _no_stalls,
    ) -> None:
        config = uvicorn.Config(
            probe_app(loops, ready, stalls),
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
