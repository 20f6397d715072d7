"""Settings of the activity clients, read from `ORCHESTRATION_*` environment variables.

The stack URL and credentials are `engine.stack.StackSettings`' (link() and
the activities use the same ones, BEHAVIOUR 1.1); this adds the call limits.
"""

from __future__ import annotations

from pydantic import Field

from engine.stack import StackSettings


class ActivitySettings(StackSettings):
    # Per-attempt limit, upstream's StartToClose of 60 s (BEHAVIOUR 8.7); a
    # timed-out attempt is a retryable failure. 10 minutes at most: beyond that
    # a stuck attempt hides a dead stack from the retry schedule.
    activity_timeout: float = Field(default=60.0, gt=0, le=600)
    # Calls in flight per target service (ledger, wallets, payments), per
    # worker process. Separate pools: a slow ledger fills its own slots and
    # cannot starve wallets or payments calls. See _limits.py for the number.
    # 16 was chosen with the httpx client, where 32 halved the sends completed
    # per second on 2 cores (109/s against 270/s, benchmarks/engine.py):
    # httpcore scanned its whole pool per request. The aiohttp transport costs
    # the same per call at 2, 8 or 32 in flight (benchmarks/sandbox.py); the
    # default stays until benchmarks/engine.py is measured again on a quiet box.
    activity_max_concurrency: int = Field(default=16, ge=1, le=1024)
    # Calls per second per target service, 0 = unlimited (a token bucket with
    # one second of burst).
    activity_rate_limit: float = Field(default=0.0, ge=0)
    # Pause mode (BEHAVIOUR 14.4, upstream's --pause-stage-activities): a
    # retryable stage activity out of attempts is held until resumed through
    # the API instead of failing its instance. Read when an instance starts
    # and kept in its state, so changing it affects new instances only.
    pause_stage_activities: bool = False
