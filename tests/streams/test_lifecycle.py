import asyncio

import pytest

from streams.lifecycle import Loop, first_death

pytestmark = pytest.mark.unit


async def test_first_death_names_the_loop_that_raised() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    async def broken() -> None:
        await asyncio.sleep(0.01)
        raise TypeError("definition is not an object")

    healthy, dying = Loop("healthy", forever), Loop("tail", broken)
    healthy.start()
    dying.start()
    died = await asyncio.wait_for(first_death([healthy, dying]), timeout=5)
    assert died.loop == "tail"
    assert isinstance(died.error, TypeError)
    assert healthy.alive
    await healthy.stop()
    assert not healthy.alive


async def test_a_stopped_loop_is_not_a_death() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    loop = Loop("quiet", forever)
    loop.start()
    await loop.stop(deadline=1)
    assert loop.death() is None
