"""When `orchestration dev` restarts a worker that died, and how to say why.

Pure policy, no processes: the dev stack asks `RestartBackoff.delay` how long
to wait before the next start. A worker that crashes right at start (a bad
setting, a broker it cannot reach) would otherwise be restarted five times a
second and bury its own error message under restart noise.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field


@dataclass
class RestartBackoff:
    """1 s, 2 s, 4 s ... up to `max_s` between restarts of a crashing child;
    back to `initial_s` once a child ran `reset_after_s` seconds (a crash an
    hour after the last one is a new incident, not a crash loop)."""

    initial_s: float = 1.0
    max_s: float = 30.0
    reset_after_s: float = 60.0
    _next_s: float = field(init=False)

    def __post_init__(self) -> None:
        self._next_s = self.initial_s

    def delay(self, uptime_s: float) -> float:
        """Seconds to wait before restarting a child that ran `uptime_s` seconds."""
        if uptime_s >= self.reset_after_s:
            self._next_s = self.initial_s
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        return delay


def describe_exit(returncode: int) -> str:
    """`exit code 1` or `signal SIGKILL` (Popen reports a signal as -N)."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"signal {signal.Signals(-returncode).name}"
    except ValueError:
        return f"signal {-returncode}"
