"""One lifecycle for every long-running loop: start, a task to watch, stop with a deadline.

A loop that ends on its own (an escaped exception, or a return) is a death:
the process that owns it must exit non-zero, with one clear log line, so a
supervisor restarts it. Nothing may keep running beside a dead loop: a
frozen trigger index matching against stale triggers is worse than a
restart.

    loop = Loop("definitions-tail", reader.tail)
    loop.start()
    died = await first_death([loop, other])   # a LoopDied, once one ends
    await loop.stop()                          # cancel, wait at most 10 s
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import structlog

log = structlog.get_logger(__name__)

# A loop's own cleanup (closing a consumer, draining a producer) finishes in
# well under a second on loopback; 10 s bounds a shutdown against a broker
# that stopped answering, so an orchestrator's SIGKILL is never needed.
STOP_DEADLINE_S = 10.0


class LoopDied(Exception):
    """A supervised loop ended on its own; `loop` names it, `__cause__` says why."""

    def __init__(self, name: str, error: BaseException | None) -> None:
        reason = "returned" if error is None else f"{type(error).__name__}: {error}"
        super().__init__(f"loop {name!r} died ({reason})")
        self.loop = name
        self.error = error


class Loop:
    """A named asyncio task running `body` until stopped."""

    def __init__(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self._body = body
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        assert self._task is None, f"{self.name} already started"
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        await self._body()

    @property
    def task(self) -> asyncio.Task[None]:
        assert self._task is not None, f"{self.name}: start() first"
        return self._task

    @property
    def started(self) -> bool:
        return self._task is not None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def death(self) -> LoopDied | None:
        """Why the loop ended on its own; None while it runs or after `stop()`."""
        if self._task is None or not self._task.done() or self._stopping:
            return None
        if self._task.cancelled():
            return LoopDied(self.name, asyncio.CancelledError())
        return LoopDied(self.name, self._task.exception())

    async def stop(self, deadline: float = STOP_DEADLINE_S) -> None:
        """Cancel and wait for the loop, at most `deadline` seconds."""
        self._stopping = True
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(task), timeout=deadline)
        if not task.done():
            log.error("loop.stop_deadline_passed", loop=self.name, deadline_s=deadline)


async def first_death(loops: Sequence[Loop]) -> LoopDied:
    """Wait until one of `loops` ends on its own and say which and why."""
    tasks = {loop.task: loop for loop in loops}
    while True:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            died = tasks[task].death()
            if died is not None:
                return died
            del tasks[task]  # stopped on purpose
        if not tasks:
            await asyncio.Event().wait()  # every loop stopped: nothing can die any more
