"""`/_healthcheck` answers 503 once the outbox relay died, and the app asks
its host to stop (definitions accepted now would never reach a worker)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from api.outbox import OutboxRelay

pytestmark = pytest.mark.integration


async def test_healthcheck_reports_a_dead_outbox_relay(
    make_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = asyncio.Event()

    async def dies_on_cue(self: OutboxRelay) -> None:
        await gate.wait()
        raise RuntimeError("relay bug")

    monkeypatch.setattr(OutboxRelay, "_run", dies_on_cue)
    async with make_client(check=False) as client:
        exits: list[bool] = []
        client.app.state.request_exit = lambda: exits.append(True)
        alive = await client.get("/_healthcheck")
        assert (alive.status_code, alive.json()) == (200, {"default": "OK"})

        gate.set()
        for _ in range(100):
            if exits:
                break
            await asyncio.sleep(0.02)
        assert exits == [True]
        dead = await client.get("/_healthcheck")
        assert dead.status_code == 503
        assert "RuntimeError: relay bug" in dead.json()["outbox-relay"]
