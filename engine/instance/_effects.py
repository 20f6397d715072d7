"""What the state machine asks the runtime to do; the runtime feeds results back as inputs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.history import HistoryRecord


@dataclass(frozen=True, slots=True)
class CallActivity:
    """One attempt of an activity; a retry repeats the same id, request and key."""

    activity_id: str
    name: str
    request: dict[str, Any]
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class SetTimer:
    timer_id: str
    due: datetime


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer_id: str


@dataclass(frozen=True, slots=True)
class EmitHistory:
    record: HistoryRecord


@dataclass(frozen=True, slots=True)
class Terminated:
    """The instance reached its terminal state; the runtime may drop it."""


Effect = CallActivity | SetTimer | CancelTimer | EmitHistory | Terminated
