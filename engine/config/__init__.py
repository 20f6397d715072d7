"""Workflow configuration schema: the one definition of what a stage may say.

Pure (no I/O). Used by the API when a workflow is created and by the engine
when a stage is reached (BEHAVIOUR.md sections 5 and 6.1).

Creation (``POST /workflows``)::

    cfg = parse_workflow(body)          # Workflow, or raises WorkflowConfigError
    cfg.raw                             # the submitted object, to store and echo
    cfg.stages                          # tuple[StageSpec, ...] (name + raw body)

Every stage is checked fully at creation: shape, types, required fields and
exactly-one-of rules, with each ``${var}`` standing for a valid value of its
field's type (a literal that can never parse is rejected; a placeholder can
only be judged at run time). ``WorkflowConfigError`` carries ``stage`` (index)
and ``field`` (dotted JSON path), e.g.
``stage 0 (send): field 'amount.amount': unable to parse 'abc' as big int``.

Run time::

    stage = resolve_stage(cfg.stages[i], variables)   # or the stored {"send": {...}}
    stage.history_name                  # "RunSend", "RunDelay", ...
    stage.history_input()               # the history entry's "input"

``resolve_stage`` interpolates, coerces, fills defaults and validates with
upstream semantics, returning ``Send``, ``Delay``, ``WaitEvent``, ``Update`` or
``Noop``; a failure raises ``StageError`` whose message is what the stage and
the instance record as ``error``. Choices made here: integers are exact Python
ints; a date that interpolates to empty is absent (upstream uses year 1).

Helpers: ``interpolate`` (``${name}``, unknown -> ``""``), ``parse_duration``
and ``format_duration`` (Go durations, in nanoseconds), ``parse_date`` and
``format_date`` (RFC 3339, UTC, microseconds).
"""

from engine.config._dates import format_date, parse_date
from engine.config._durations import format_duration, parse_duration
from engine.config._errors import ConfigError, StageError, WorkflowConfigError
from engine.config._interpolation import interpolate
from engine.config._resolution import StageSpec, resolve_stage
from engine.config._send import (
    Amount,
    LedgerAccount,
    PaymentDestination,
    PaymentSource,
    Send,
    SendDestination,
    SendSource,
    Wallet,
)
from engine.config._stage import ResolvedStage
from engine.config._stages import Delay, Noop, Update, UpdateAccount, WaitEvent
from engine.config._workflow import DEFAULT_ACTIVITY_MAX_ATTEMPTS, Workflow, parse_workflow

__all__ = [
    "DEFAULT_ACTIVITY_MAX_ATTEMPTS",
    "Amount",
    "ConfigError",
    "Delay",
    "LedgerAccount",
    "Noop",
    "PaymentDestination",
    "PaymentSource",
    "ResolvedStage",
    "Send",
    "SendDestination",
    "SendSource",
    "StageError",
    "StageSpec",
    "Update",
    "UpdateAccount",
    "WaitEvent",
    "Wallet",
    "Workflow",
    "WorkflowConfigError",
    "format_date",
    "format_duration",
    "interpolate",
    "parse_date",
    "parse_duration",
    "parse_workflow",
    "resolve_stage",
]
