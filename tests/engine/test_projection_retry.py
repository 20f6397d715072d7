"""The projector retries a failed write until it succeeds, and soon after the database is back."""

from __future__ import annotations

from itertools import pairwise

import pytest

from engine.worker.process import write_until_done

pytestmark = pytest.mark.unit

OUTAGE_S = 30.0
# The projection resumes this soon after the database is back (it once waited 21 s).
RESUMED_WITHIN_S = 5.0


async def test_a_write_failing_through_a_30_s_outage_lands_within_the_cap_after_it() -> None:
    clock = 0.0
    attempts: list[float] = []

    async def sleep(seconds: float) -> None:
        nonlocal clock
        clock += seconds

    async def write() -> str:
        attempts.append(clock)
        if clock < OUTAGE_S:
            raise ConnectionRefusedError("database down")
        return "written"

    assert await write_until_done(write, sleep=sleep) == "written"
    # Never given up, and resumed at most one capped back-off after the outage.
    assert attempts[-1] - OUTAGE_S <= RESUMED_WITHIN_S
    assert all(b - a <= RESUMED_WITHIN_S for a, b in pairwise(attempts))
    assert len(attempts) > 5
