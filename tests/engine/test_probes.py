"""The worker's probes say what its loops and its trigger index are doing."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from engine.worker.probes import probe_app
from streams.lifecycle import Loop

pytestmark = pytest.mark.unit


async def test_probes_follow_loops_and_readiness() -> None:
    async def runs() -> None:
        await asyncio.Event().wait()

    async def dies() -> None:
        raise RuntimeError("boom")

    alive, doomed = Loop("match", runs), Loop("project", dies)
    loops = [alive]
    ready = asyncio.Event()
    transport = httpx.ASGITransport(app=probe_app(lambda: loops, ready))
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
        alive.start()
        assert (await client.get("/healthz")).status_code == 200
        loading = await client.get("/readyz")
        assert (loading.status_code, loading.json()) == (503, {"status": "loading definitions"})
        ready.set()
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        assert "python_info" in (await client.get("/metrics")).text

        loops.append(doomed)
        doomed.start()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        for path in ("/healthz", "/readyz"):
            down = await client.get(path)
            assert down.status_code == 503
            assert "RuntimeError: boom" in down.json()["loops"]["project"]
        await alive.stop()


async def test_a_stalled_loop_fails_liveness_and_readiness_until_it_progresses() -> None:
    stalled: dict[str, str] = {"project-loop": "no progress for 130 s with 5 records waiting"}
    refreshed = 0

    async def stalls() -> dict[str, str]:
        nonlocal refreshed
        refreshed += 1
        return dict(stalled)

    ready = asyncio.Event()
    ready.set()
    transport = httpx.ASGITransport(app=probe_app(lambda: [], ready, stalls))
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
        for path in ("/healthz", "/readyz"):
            down = await client.get(path)
            assert (down.status_code, down.json()) == (
                503,
                {"status": "stalled", "loops": dict(stalled)},
            )
        await client.get("/metrics")
        assert refreshed == 3  # /metrics refreshes the lag gauges too
        stalled.clear()
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ready"}
