"""`POST /v2/triggers/{id}/test`: a trigger's filter and vars against a sample payload.

Pure apart from `fetch` (served to `link()`); the route runs it in a thread
because `fetch` performs blocking HTTP reads. Same evaluation as the
matcher: `event` is bound to the payload, only a filter yielding exactly
`true` matches, a var evaluating to the empty string reads as `{}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from triggers import expr


def evaluate_test(
    filter_source: str | None,
    variables: Mapping[str, str],
    payload: Any,
    fetch: expr.Fetch | None = None,
    exact: expr.ExactInts | None = None,
) -> dict[str, Any]:
    """The `data` of the answer. `filter`/`variables` are omitted rather than
    null: the OpenAPI schema types them as objects (upstream sends null)."""
    env = {"event": payload}
    out: dict[str, Any] = {}
    matched = True
    if filter_source is not None:
        # Upstream evaluates even an empty filter here (and reports its error).
        try:
            verdict = expr.compile(filter_source).run(env, fetch=fetch)
        except expr.ExprError as exc:
            matched = False
            out["filter"] = {"match": False, "error": str(exc)}
        else:
            matched = verdict is True
            out["filter"] = {"match": matched}
    if matched and variables:
        results: dict[str, dict[str, str]] = {}
        for name, source in variables.items():
            try:
                value = expr.format_var(expr.compile(source).run(env, fetch=fetch), exact)
            except expr.ExprError as exc:
                results[name] = {"error": str(exc)}
            else:
                results[name] = {"value": value} if value else {}
        out["variables"] = results
    return out
