"""The state of one instance between two inputs, and its JSON wire form."""

from __future__ import annotations

import operator
from dataclasses import dataclass, fields
from typing import Any, Literal

# What the current stage waits for; None once terminated or between stages.
Waiting = Literal["activity", "retry", "delay", "event", "paused"]

# Early events kept per instance: past this the oldest is dropped (and counted).
EVENT_BUFFER = 64


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """An activity of the current stage, fixed when the stage starts so retries repeat it."""

    name: str
    request: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InstanceState:
    instance_id: str
    workflow_id: str
    stack: str
    run_id: str
    stages: tuple[dict[str, Any], ...]
    variables: dict[str, str]
    max_attempts: int
    # Pause mode (14.4), fixed when the instance starts: a retryable activity
    # out of attempts is held (waiting "paused") until resumed, not failed.
    pause_activities: bool = False
    stage: int = 0
    stage_started_at: str = ""
    # History name and input of the executing stage; None when it did not resolve.
    stage_name: str | None = None
    stage_input: dict[str, Any] | None = None
    waiting: Waiting | None = None
    event: str | None = None
    timer_id: str | None = None
    # When the pending timer is due (ISO 8601, UTC): a new owner re-arms it.
    timer_due: str | None = None
    # The current stage's calls so far and the outputs of those that succeeded
    # (None for a call without output); the next call derives from them.
    plan: tuple[PlannedCall, ...] = ()
    outputs: tuple[dict[str, Any] | None, ...] = ()
    position: int = 0
    attempt: int = 0
    activity_id: str | None = None
    activity_started_at: str = ""
    # The hold of the current activity (pause mode): when, why, its last failure.
    paused_at: str | None = None
    pause_reason: str | None = None
    last_failure: str | None = None
    last_failure_type: str | None = None
    terminated: bool = False
    error: str | None = None
    # Events that arrived while no wait_event stage waited, oldest first (at
    # most EVENT_BUFFER); the next wait_event stage consumes them in order.
    early_events: tuple[str, ...] = ()
    # How many early events were dropped because the buffer was full.
    early_events_dropped: int = 0
    # Offset of the last command applied, on this instance's partition of the
    # commands topic: a redelivered command (offset <= this) is skipped, so
    # replaying any suffix of the topic changes nothing.
    applied_offset: int = -1

    def evolve(self, **changes: Any) -> InstanceState:
        """A copy with `changes`, like `dataclasses.replace` at a third of its
        cost (3 vs 8-11 µs: replace re-runs `__init__` over all 31 fields;
        this copies the slots), and a start takes ~7 copies. An unknown field
        name raises AttributeError; there is no `__post_init__` to skip."""
        new = _NEW(InstanceState)
        for setter, value in zip(_SETTERS, _GET_ALL(self), strict=True):
            setter(new, value)
        for name, value in changes.items():
            _SET(new, name, value)
        return new

    def to_wire(self) -> dict[str, Any]:
        """A JSON-able dict (through ``streams.codec``); ints stay exact."""
        # Shallow: asdict's deep copy was the runtime's biggest cost (~7% of
        # the worker's CPU in benchmarks/engine.py); nothing here is mutated.
        wire = {name: getattr(self, name) for name in _FIELDS}
        wire["stages"] = list(self.stages)
        wire["plan"] = [{"name": call.name, "request": call.request} for call in self.plan]
        wire["outputs"] = list(self.outputs)
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> InstanceState:
        values = {key: value for key, value in wire.items() if key in _KNOWN}
        values["stages"] = tuple(values.get("stages", ()))
        values["plan"] = tuple(PlannedCall(**call) for call in values.get("plan", ()))
        values["outputs"] = tuple(values.get("outputs", ()))
        values["early_events"] = tuple(values.get("early_events", ()))
        return cls(**values)


_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(InstanceState))
_KNOWN = frozenset(_FIELDS)
_GET_ALL = operator.attrgetter(*_FIELDS)
_SETTERS = tuple(getattr(InstanceState, name).__set__ for name in _FIELDS)
_NEW = object.__new__
_SET = object.__setattr__
