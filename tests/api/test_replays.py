"""The API's replay registry: one replay at a time per trigger, status kept after it ends."""

import asyncio

import pytest

from api.replays import KEEP, ReplayRunning, Replays
from engine import ReplayProgress, ReplayWindow

pytestmark = pytest.mark.unit

WINDOW = ReplayWindow.parse("2025-03-04T10:00:00Z")


async def ended(*replays: ReplayProgress) -> None:
    """Let the event loop run the replays (and their done callbacks) to their end."""
    for _ in range(100):
        if all(r.done for r in replays):
            break
        await asyncio.sleep(0)
    for _ in range(3):
        await asyncio.sleep(0)


async def test_a_second_replay_of_a_running_trigger_is_refused_until_it_ends() -> None:
    replays = Replays()
    release = asyncio.Event()

    async def run(progress: ReplayProgress) -> None:
        await release.wait()
        progress.finish()

    first = replays.start("t1", WINDOW, run)
    with pytest.raises(ReplayRunning) as refused:
        replays.start("t1", WINDOW, run)
    assert refused.value.replay_id == first.id
    other = replays.start("t2", WINDOW, run)  # another trigger is not held up
    release.set()
    await ended(first, other)
    assert replays.get("t1", first.id) is first
    assert first.done
    assert replays.get("t2", first.id) is None  # a replay is read under its own trigger
    assert replays.get("t2", other.id) is other
    again = replays.start("t1", WINDOW, run)
    assert again.id != first.id
    await replays.aclose()


async def test_a_failed_replay_frees_its_trigger_and_stopping_cancels_the_rest() -> None:
    replays = Replays()

    async def fail(progress: ReplayProgress) -> None:
        progress.finish("boom")
        raise RuntimeError("boom")

    failed = replays.start("t1", WINDOW, fail)
    await ended(failed)
    assert failed.error == "boom"

    async def forever(progress: ReplayProgress) -> None:
        await asyncio.Event().wait()

    running = replays.start("t1", WINDOW, forever)
    await asyncio.sleep(0)
    await replays.aclose()
    assert running.error == "cancelled"
    # Cancelled before it ever ran: the trigger is free all the same.
    unstarted = replays.start("t1", WINDOW, forever)
    await replays.aclose()
    assert unstarted.error == "cancelled"
    replays.start("t1", WINDOW, forever)
    await replays.aclose()


async def test_only_the_last_finished_replays_are_kept() -> None:
    replays = Replays()

    async def done(progress: ReplayProgress) -> None:
        progress.finish()

    ids = []
    for n in range(KEEP + 5):
        started = replays.start(f"t{n}", WINDOW, done)
        ids.append(started.id)
        await ended(started)
    assert replays.get("t0", ids[0]) is None
    assert replays.get(f"t{KEEP + 4}", ids[-1]) is not None
