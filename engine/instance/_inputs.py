"""What the runtime feeds the state machine: commands, activity results, timers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.commands import StartInstance


@dataclass(frozen=True, slots=True)
class Start:
    command: StartInstance
    stack: str
    now: datetime
    # The worker's pause mode (14.4), kept in the state: replays stay the same.
    pause_activities: bool = False


@dataclass(frozen=True, slots=True)
class ActivitySucceeded:
    activity_id: str
    output: dict[str, Any] | None
    now: datetime


@dataclass(frozen=True, slots=True)
class ActivityFailed:
    activity_id: str
    code: str
    message: str
    retryable: bool
    now: datetime


@dataclass(frozen=True, slots=True)
class TimerFired:
    timer_id: str
    now: datetime


@dataclass(frozen=True, slots=True)
class EventReceived:
    name: str
    now: datetime


@dataclass(frozen=True, slots=True)
class Abort:
    now: datetime


@dataclass(frozen=True, slots=True)
class Resume:
    """Release a held activity (14.4) if it is still held since ``paused_at``."""

    activity_id: str
    paused_at: str
    now: datetime


@dataclass(frozen=True, slots=True)
class Recover:
    """A new owner took the instance over (restart, rebalance): re-arm what it waits for."""

    now: datetime


Input = (
    Start
    | ActivitySucceeded
    | ActivityFailed
    | TimerFired
    | EventReceived
    | Abort
    | Resume
    | Recover
)
