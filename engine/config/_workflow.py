"""A workflow definition as accepted by ``POST /workflows`` (BEHAVIOUR.md 3.4, 4.1, 14.3)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from engine.config._errors import WorkflowConfigError
from engine.config._resolution import StageSpec, check_stage
from engine.config._schema import go_type_name
from engine.config._stage import Model

# 14.3: the attempt budget is a Temporal int32 upstream; 15 is what upstream
# stores when the key is omitted (whether to store it is the API's call).
DEFAULT_ACTIVITY_MAX_ATTEMPTS = 15
MAX_ACTIVITY_MAX_ATTEMPTS = 2_147_483_647


class Workflow(Model):
    """A validated workflow definition.

    ``raw`` is the submitted object, untouched (unknown keys included): it is
    what gets stored and echoed as ``config``. ``stages`` is empty when the
    submission had none (``raw`` keeps ``null`` apart from ``[]``).
    """

    name: str
    stages: tuple[StageSpec, ...]
    activity_max_attempts: int | None
    raw: dict[str, Any]


def parse_workflow(raw: Any) -> Workflow:
    """Validate a decoded ``POST /workflows`` body; raises ``WorkflowConfigError``.

    Checks the shape, then every stage fully (types, required fields,
    exactly-one-of rules) with placeholder values for ``${var}``: stricter
    than upstream, which only coerces at creation.
    """
    if not isinstance(raw, Mapping):
        raise WorkflowConfigError(
            f"a workflow configuration must be an object, got {go_type_name(raw)}"
        )
    name = raw.get("name")
    if name is None:
        name = ""
    elif not isinstance(name, str):
        raise WorkflowConfigError(
            f"field 'name': expected string but was {go_type_name(name)}", field="name"
        )
    stages_raw = raw.get("stages")
    if stages_raw is not None and not isinstance(stages_raw, list):
        raise WorkflowConfigError(
            f"field 'stages': expected an array but was {go_type_name(stages_raw)}",
            field="stages",
        )
    attempts = _activity_max_attempts(raw.get("activityMaxAttempts"))
    # Work on a private copy: a caller mutating its dict must not change ours.
    kept = copy.deepcopy(dict(raw))
    stages = tuple(
        check_stage(index, stage) for index, stage in enumerate(kept.get("stages") or ())
    )
    return Workflow(name=name, stages=stages, activity_max_attempts=attempts, raw=kept)


def _activity_max_attempts(value: Any) -> int | None:
    if value is None:
        return None
    # JSON 3.0 or true are not integers for Go's decoder either.
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorkflowConfigError(
            f"activityMaxAttempts must be an integer, got {go_type_name(value)}",
            field="activityMaxAttempts",
        )
    if not 1 <= value <= MAX_ACTIVITY_MAX_ATTEMPTS:
        raise WorkflowConfigError(
            f"activityMaxAttempts must be between 1 and {MAX_ACTIVITY_MAX_ATTEMPTS}",
            field="activityMaxAttempts",
        )
    return value
