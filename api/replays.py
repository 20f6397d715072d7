"""Replays the API runs (an extension): background tasks in this process.

One replay at a time per trigger (a second is refused with CONFLICT while
one runs); progress is kept in memory for the last `KEEP` replays, so it is
lost when the process restarts and is served only by the API process that
started it. A replay interrupted that way can be started again: its ids are
deterministic, so what it already produced is not produced twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import structlog

from engine import ReplayProgress as Progress
from engine import ReplayWindow as Window

log = structlog.get_logger(__name__)

# Finished replays kept for their status: a few KB each.
KEEP = 100


class ReplayRunning(Exception):
    def __init__(self, replay_id: str) -> None:
        super().__init__(replay_id)
        self.replay_id = replay_id


class Replays:
    def __init__(self) -> None:
        self._progress: OrderedDict[str, Progress] = OrderedDict()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._by_trigger: dict[str, str] = {}

    def start(
        self, trigger_id: str, window: Window, run: Callable[[Progress], Awaitable[object]]
    ) -> Progress:
        """Start `run(progress)` in the background; `ReplayRunning` if the trigger
        already has a replay that has not finished."""
        running = self._by_trigger.get(trigger_id)
        if running is not None:
            raise ReplayRunning(running)
        progress = Progress(id=str(uuid.uuid4()), trigger_id=trigger_id, window=window)
        self._progress[progress.id] = progress
        while len(self._progress) > KEEP:
            oldest = next(iter(self._progress))
            if oldest in self._running:
                break
            del self._progress[oldest]
        self._by_trigger[trigger_id] = progress.id

        async def task() -> None:
            try:
                await run(progress)
            except Exception as exc:
                # run_replay already put it in the progress: log it once.
                log.error("replay.failed", replay=progress.id, trigger=trigger_id, error=str(exc))

        def ended(done: asyncio.Task[None]) -> None:
            # A callback, not a `finally`: a task cancelled before its first
            # step never runs its body, and must still free its trigger.
            self._running.pop(progress.id, None)
            self._by_trigger.pop(trigger_id, None)
            if not progress.done:
                progress.finish("cancelled" if done.cancelled() else "stopped")

        running_task = asyncio.create_task(task(), name=f"replay-{progress.id}")
        running_task.add_done_callback(ended)
        self._running[progress.id] = running_task
        return progress

    def get(self, trigger_id: str, replay_id: str) -> Progress | None:
        progress = self._progress.get(replay_id)
        return progress if progress is not None and progress.trigger_id == trigger_id else None

    async def aclose(self) -> None:
        """Cancel the replays in flight (the API is stopping)."""
        tasks = list(self._running.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # let the done callbacks run
