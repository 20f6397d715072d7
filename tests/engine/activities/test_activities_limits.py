"""Backpressure: calls in flight per service, and the token-bucket rate limit."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from engine.activities._limits import TokenBucket
from engine.activities._transport import Reply
from tests.engine.activities.fake_stack import FakeStack, Seen, reply

pytestmark = pytest.mark.unit


class Slow:
    """A fake whose every answer takes ``delay``; counts calls in flight per service."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.in_flight: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.fake = FakeStack(self.handle)

    async def handle(self, seen: Seen) -> Reply:
        service = seen.path.split("/")[2]
        self.in_flight[service] = self.in_flight.get(service, 0) + 1
        self.peak[service] = max(self.peak.get(service, 0), self.in_flight[service])
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight[service] -= 1
        return reply(200, {"data": {"id": "x", "address": "a"}})


async def test_never_more_than_the_limit_in_flight() -> None:
    slow = Slow(0.05)
    stack = slow.fake.stack(activity_max_concurrency=3)
    await asyncio.gather(
        *(stack.call("GetWallet", {"id": str(i)}, idempotency_key=None) for i in range(15))
    )
    assert slow.peak == {"wallets": 3}
    assert len(slow.fake.seen) == 15


async def test_each_service_has_its_own_limit() -> None:
    slow = Slow(0.05)
    stack = slow.fake.stack(activity_max_concurrency=2)
    calls = [stack.call("GetWallet", {"id": str(i)}, idempotency_key=None) for i in range(6)]
    calls += [
        stack.call("GetAccount", {"ledger": "m", "id": str(i)}, idempotency_key=None)
        for i in range(6)
    ]
    calls += [stack.call("GetPayment", {"id": str(i)}, idempotency_key=None) for i in range(6)]
    await asyncio.gather(*calls)
    assert slow.peak == {"wallets": 2, "ledger": 2, "payments": 2}


async def test_a_stuck_service_does_not_block_the_others() -> None:
    release = asyncio.Event()

    async def handler(seen: Seen) -> Reply:
        if "/ledger/" in seen.path:
            await release.wait()
        return reply(200, {"data": {"id": "w", "address": "a"}})

    stack = FakeStack(handler).stack(activity_max_concurrency=1)
    stuck = asyncio.create_task(
        stack.call("GetAccount", {"ledger": "m", "id": "a"}, idempotency_key=None)
    )
    await asyncio.sleep(0.01)
    assert await asyncio.wait_for(
        stack.call("GetWallet", {"id": "w"}, idempotency_key=None), timeout=1.0
    ) == {"data": {"id": "w", "address": "a"}}
    assert not stuck.done()
    release.set()
    await stuck


async def test_waiting_for_a_slot_does_not_count_against_the_time_limit() -> None:
    # 4 calls of 0.15 s through one slot take 0.6 s, each within its 0.4 s limit.
    slow = Slow(0.15)
    stack = slow.fake.stack(activity_max_concurrency=1, activity_timeout=0.4)
    await asyncio.gather(
        *(stack.call("GetWallet", {"id": str(i)}, idempotency_key=None) for i in range(4))
    )
    assert len(slow.fake.seen) == 4


async def test_the_rate_limit_spaces_calls_after_a_one_second_burst() -> None:
    stamps: list[float] = []
    loop = asyncio.get_running_loop()

    def handler(seen: Seen) -> Reply:
        stamps.append(loop.time())
        return reply(200, {"data": {"id": "w"}})

    stack = FakeStack(handler).stack(activity_rate_limit=20)
    started = loop.time()
    await asyncio.gather(
        *(stack.call("GetWallet", {"id": "w"}, idempotency_key=None) for _ in range(30))
    )
    # 20 at once (the burst), then 10 more at 20/s: about 0.5 s in all.
    assert 0.45 <= loop.time() - started < 1.5
    assert stamps[19] - started < 0.2
    gaps = [b - a for a, b in itertools.pairwise(stamps[20:])]
    assert min(gaps) >= 0.04


async def test_no_rate_limit_by_default() -> None:
    fake = FakeStack(lambda seen: reply(200, {"data": {"id": "w"}}))
    stack = fake.stack()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(
        *(stack.call("GetWallet", {"id": "w"}, idempotency_key=None) for _ in range(200))
    )
    assert loop.time() - started < 1.0


async def test_token_bucket_arithmetic_on_a_fake_clock() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 9))
        now[0] += seconds

    bucket = TokenBucket(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        await bucket.take()
    assert slept == []  # the burst: one second's worth
    await bucket.take()
    assert slept == [0.25]
    now[0] += 10  # a long pause refills to the burst size, not beyond
    for _ in range(4):
        await bucket.take()
    await bucket.take()
    assert slept == [0.25, 0.25]


async def test_a_slow_rate_still_lets_one_call_through() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(0.5, clock=lambda: now[0], sleep=sleep)
    await bucket.take()
    assert now[0] == 0.0
    await bucket.take()
    assert now[0] == pytest.approx(2.0)
