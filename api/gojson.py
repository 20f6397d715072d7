"""JSON documents as Go holds them (every number a float64 unless it fits an int)."""

from __future__ import annotations

from typing import Any

_INT64 = 2**63


def go_json(value: Any) -> Any:
    """A JSON document read back from jsonb, as Go would hold it.

    PostgreSQL prints a large number such as 6.3e166 as its integer digits,
    which Python then reads as an int too big for orjson (and for Go, which
    decodes every JSON number as float64). Such ints become floats again.
    """
    if isinstance(value, dict):
        return {k: go_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [go_json(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        return float(value)
    return value
