"""Backpressure toward the stack: bounded concurrency and an optional rate per service.

Upstream has a ``--temporal-max-parallel-activities`` flag, but it is never
passed to the Temporal worker options, so upstream runs as many activities at
once as Temporal's default (1,000 per worker): nothing protects the ledger from
a burst of instances. Here each target service (ledger, wallets, payments) has
its own bound, ``activity_max_concurrency`` calls in flight (default 16), and,
when ``activity_rate_limit`` > 0, a token bucket of that many calls per second.

Waiting for a slot or a token happens before an attempt starts, so it does not
eat into the attempt's time limit (as with Temporal, whose StartToClose clock
starts when a worker picks the task up).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager


class TokenBucket:
    """``rate`` calls per second on average, bursts of up to ``max(1, rate)`` calls.

    One second of burst lets a stage's few calls go out at once after a quiet
    period while a sustained flood is held at ``rate``. Waiters are served in
    arrival order (one lock), so no caller starves.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await self._sleep((1.0 - self._tokens) / self._rate)


class ServiceLimit:
    """At most ``concurrency`` holders at once, admitted at ``rate`` per second (0: no rate)."""

    def __init__(self, concurrency: int, rate: float = 0.0) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._bucket = TokenBucket(rate) if rate > 0 else None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            if self._bucket is not None:
                await self._bucket.take()
            yield
