"""Replaying a stage's activities against their stored outputs (BEHAVIOUR 6.2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.instance._state import PlannedCall


class PlanError(ValueError):
    """The stage logic refuses the stage; the message is the stage's error."""


class Pending(Exception):
    """Raised by ``Run.call`` for the first call without an output: the next one to make."""

    def __init__(self, call: PlannedCall) -> None:
        super().__init__(call.name)
        self.call = call


@dataclass(slots=True)
class Run:
    """The stage's activities so far; ``call`` answers from stored outputs in order."""

    outputs: Sequence[dict[str, Any] | None]
    key: Callable[[int], str]  # the stable, unique key of the call at a position
    position: int = 0

    def call(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        if self.position >= len(self.outputs):
            raise Pending(PlannedCall(name, request))
        output = self.outputs[self.position]
        self.position += 1
        # Accept the history form {"<Name>": output} as well as the bare output.
        if isinstance(output, dict) and set(output) == {name}:
            inner = output[name]
            output = inner if isinstance(inner, dict) else None
        return output or {}

    def next_reference(self) -> str:
        """A reference naming the next call of this stage execution, stable across retries."""
        return self.key(self.position)
