"""Turning one raw stage (``{"<name>": {<body>}}``) into a resolved model.

The same reading code serves both moments of BEHAVIOUR.md 5.2: run time
(instance variables) and creation (placeholder values, see ``_schema``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.config._errors import StageError, WorkflowConfigError
from engine.config._schema import CoercionFailure, Context, Reader, json_path
from engine.config._send import Send
from engine.config._stage import Model, ResolvedStage
from engine.config._stages import Delay, Noop, Update, WaitEvent

STAGE_TYPES: dict[str, type[ResolvedStage]] = {
    kind.stage_name: kind for kind in (Send, Delay, WaitEvent, Update, Noop)
}


class StageSpec(Model):
    """One stage of a workflow as submitted: its name and its raw, unresolved body."""

    name: str
    body: dict[str, Any] | None

    def as_raw(self) -> dict[str, Any]:
        """The one-key object as stored: ``{"send": {...}}``."""
        return {self.name: self.body}


class ShapeError(ValueError):
    """A stage is not a one-key object naming a known stage with an object body."""


def split_stage(stage: Any) -> tuple[str, Mapping[str, Any] | None]:
    """``{"send": {...}}`` -> ``("send", {...})``; raises ``ShapeError`` (upstream wording)."""
    if not isinstance(stage, Mapping) or not stage:
        # A null array element decodes to an empty map upstream.
        if stage is None or isinstance(stage, Mapping):
            raise ShapeError("empty specification")
        raise ShapeError("a stage must be an object with one key, the stage name")
    for name, body in stage.items():
        if body is not None and not isinstance(body, Mapping):
            raise ShapeError(f"stage '{name}' must be an object or null")
    if len(stage) != 1:
        raise ShapeError("a specification should have only one name")
    ((name, body),) = stage.items()
    if name not in STAGE_TYPES:
        raise ShapeError(f"unable to resolve schema {name}")
    return name, body


def resolve_stage(
    stage: StageSpec | Mapping[str, Any], variables: Mapping[str, str]
) -> ResolvedStage:
    """Resolve a stage at run time: interpolate, coerce, apply defaults, validate.

    ``stage`` is a ``StageSpec`` or the stored one-key object.

    Raises ``StageError`` with upstream's message shape: ``resolving field
    'X': ...`` for coercion, go-playground lines joined by ``\\n`` for
    validation.
    """
    if isinstance(stage, StageSpec):
        stage = stage.as_raw()
    try:
        name, body = split_stage(stage)
    except ShapeError as exc:
        raise StageError(str(exc)) from None
    kind = STAGE_TYPES[name]
    try:
        resolved = kind.read(Reader(body, (), Context(variables)))
    except CoercionFailure as failure:
        raise StageError(failure.run_message()) from None
    problems = resolved.violations()
    if problems:
        raise StageError("\n".join(line for problem in problems for line in problem.go_lines))
    return resolved


def check_stage(index: int, stage: Any) -> StageSpec:
    """Creation-time check of stage ``index``; returns it as a ``StageSpec``.

    Raises ``WorkflowConfigError`` naming the stage and the field.
    """
    try:
        name, body = split_stage(stage)
    except ShapeError as exc:
        raise WorkflowConfigError(f"stage {index}: {exc}", stage=index) from None
    kind = STAGE_TYPES[name]
    label = f"stage {index} ({name})"
    try:
        resolved = kind.read(Reader(body, (), Context(None)))
    except CoercionFailure as failure:
        field = json_path(failure.path)
        raise WorkflowConfigError(
            f"{label}: field '{field}': {failure.detail}", stage=index, field=field
        ) from None
    problems = resolved.violations()
    if problems:
        first = problems[0]
        where = f"field '{first.field}': " if first.field else ""
        raise WorkflowConfigError(
            f"{label}: {where}{first.message}", stage=index, field=first.field
        )
    return StageSpec(name=name, body=None if body is None else dict(body))
