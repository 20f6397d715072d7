"""Trigger definitions and their compiled form."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from triggers import expr


class TriggerError(Exception):
    """Root of the trigger domain's errors."""


class InvalidTrigger(TriggerError):
    """A definition that cannot be stored: `field` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Trigger:
    """A trigger as the API stores it and the definitions topic carries it."""

    id: str
    workflow_id: str
    event: str
    name: str = ""
    version: str | None = None
    filter: str | None = None
    vars: Mapping[str, str] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workflowID": self.workflow_id,
            "event": self.event,
            "name": self.name,
            "version": self.version,
            "filter": self.filter,
            "vars": dict(self.vars),
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Trigger:
        return cls(
            id=str(data["id"]),
            workflow_id=str(data["workflowID"]),
            event=str(data["event"]),
            name=str(data.get("name") or ""),
            version=data.get("version"),
            filter=data.get("filter"),
            vars=dict(data.get("vars") or {}),
        )


@dataclass(frozen=True, slots=True)
class CompiledTrigger:
    """A trigger with its filter and vars compiled once, at definition time."""

    trigger: Trigger
    filter: expr.Program | None
    vars: tuple[tuple[str, expr.Program], ...]
    # May call link(), i.e. do blocking HTTP: the worker then evaluates off
    # its event loop. A textual test: a false positive only costs a thread hop.
    uses_link: bool = False


def compile_trigger(trigger: Trigger) -> CompiledTrigger:
    """Compile filter and vars; raise InvalidTrigger naming the failing expression.

    An empty filter means "no filter", as upstream's listener treats it.
    """
    if not trigger.event:
        raise InvalidTrigger("missing event", field="event")
    if not trigger.workflow_id:
        raise InvalidTrigger("missing workflow id", field="workflowID")
    compiled_filter = _compile(trigger.filter, "filter") if trigger.filter else None
    compiled_vars = tuple(
        (name, _compile(source, f"vars.{name}")) for name, source in trigger.vars.items()
    )
    sources = [trigger.filter or "", *trigger.vars.values()]
    return CompiledTrigger(
        trigger=trigger,
        filter=compiled_filter,
        vars=compiled_vars,
        uses_link=any(_LINK_CALL.search(source) for source in sources),
    )


_LINK_CALL = re.compile(r"\blink\s*\(")


def _compile(source: str, where: str) -> expr.Program:
    try:
        return expr.compile(source)
    except expr.CompileError as exc:
        raise InvalidTrigger(f"error compiling expression '{source}': {exc}", field=where) from exc
