"""Filter evaluation and vars extraction for one event and its candidates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from triggers import expr
from triggers.expr import Fetch
from triggers.model import CompiledTrigger


@dataclass(frozen=True, slots=True)
class Match:
    """A trigger that fired: `variables` when every var evaluated, else `error`."""

    trigger: CompiledTrigger
    variables: dict[str, str] | None
    error: str | None


@dataclass(frozen=True, slots=True)
class FilterFailure:
    """The filter raised: no match (as upstream), reported for logs and metrics."""

    trigger: CompiledTrigger
    error: str


def evaluate(
    candidate: CompiledTrigger,
    env: Mapping[str, Any],
    fetch: Fetch | None = None,
    exact: expr.ExactInts | None = None,
) -> Match | FilterFailure | None:
    """None when the filter did not yield exactly `true`.

    ``exact`` is the table ``expr.decode_event`` filled for this event: vars
    print integers beyond 2^53 (ledger amounts) with all their digits.
    """
    if candidate.filter is not None:
        try:
            verdict = candidate.filter.run(env, fetch=fetch)
        except expr.ExprError as exc:
            return FilterFailure(candidate, str(exc))
        if verdict is not True:
            return None
    variables: dict[str, str] = {}
    for name, program in candidate.vars:
        try:
            variables[name] = expr.format_var(program.run(env, fetch=fetch), exact)
        except expr.ExprError as exc:
            # Deterministic: retrying cannot help, so the occurrence records it
            # (upstream retries these forever and never writes the occurrence).
            return Match(candidate, None, f"evaluating var '{name}': {exc}")
    return Match(candidate, variables, None)
