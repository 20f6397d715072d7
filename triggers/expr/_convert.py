"""Go-style conversions shared by the builtins."""

from __future__ import annotations

import math
from typing import Any

from ._errors import Fail
from ._types import INT_MIN
from ._values import go_type, wrap


def as_str(v: Any) -> str:
    if type(v) is str:
        return str(v)
    raise Fail(f"interface conversion: interface {{}} is {_iface(v)}, not string")


def _iface(v: Any) -> str:
    return "nil" if v is None else go_type(v)


def to_int(v: Any) -> int:
    """Go runtime.ToInt: numbers truncate, anything else fails."""
    t = type(v)
    if t is int:
        return int(v)
    if t is float:
        return _trunc(v)
    raise Fail(f"invalid operation: int({go_type(v)})")


def _trunc(x: float) -> int:
    if math.isnan(x) or math.isinf(x):
        return INT_MIN
    return wrap(int(x))
