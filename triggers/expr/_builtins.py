"""Plain (non-predicate) builtins of expr-lang (EXPR.md section 8).

Each entry declares its arity and, where upstream validates it, which
statically known argument types are rejected at compile time; the runtime
implementation re-checks types on the actual values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ._budget import charge_bytes, charge_steps, charge_walk
from ._collections import (
    _concat,
    _first,
    _flatten,
    _from_pairs,
    _keys,
    _last,
    _mean,
    _median,
    _min_max,
    _reverse,
    _sort,
    _take,
    _to_pairs,
    _uniq,
    _values,
    get,
)
from ._convert import _trunc
from ._errors import Fail
from ._format import format_v, to_json
from ._text import (
    _from_base64,
    _has_prefix,
    _has_suffix,
    _index_of,
    _join,
    _last_index_of,
    _lower,
    _repeat,
    _replace,
    _split,
    _split_after,
    _to_base64,
    _trim,
    _trim_prefix,
    _trim_suffix,
    _upper,
    from_json,
)
from ._time import NAMED_INTS, Duration, load_zone, make_date, now, parse_duration
from ._types import INT_MAX, INT_MIN, LinkedMap
from ._values import go_type, wrap

# Static types, named like Go so checker messages read like upstream's.
T_ANY: Final = "unknown"
T_NIL: Final = "nil"
T_BOOL: Final = "bool"
T_INT: Final = "int"
T_FLOAT: Final = "float64"
T_STR: Final = "string"
T_LIST: Final = "[]interface {}"
T_MAP: Final = "map[string]interface {}"
T_TIME: Final = "time.Time"
T_DURATION: Final = "time.Duration"
NUMERIC: Final = frozenset({T_INT, T_FLOAT})
SCALAR_TYPES: Final = frozenset({T_NIL, T_BOOL, T_INT, T_FLOAT, T_STR})


@dataclass(frozen=True, slots=True)
class Builtin:
    fn: Callable[..., Any]
    min_args: int
    max_args: int
    result: str = T_ANY
    # Statically known types accepted for the first argument (None: any).
    first: frozenset[str] | None = None
    validated: bool = False  # arity message in the "invalid number" form
    pure: bool = True  # may be evaluated at compile time on constant arguments
    # Charges the run's budget (see _budget.py) before the call, from the
    # arguments.  Set for builtins whose cost can far exceed their inputs'
    # size; the compiler gives their programs a frame to hold the budget.
    pre: Callable[[Any, list[Any], int], None] | None = None
    # Walks its arguments recursively: charged like a walk (frames only).
    walks: bool = False
    # Static type of the result's elements when it is a list Go types
    # (``split`` returns ``[]string``).
    elem: str | None = None


def _len(v: Any) -> int:
    t = type(v)
    if t is str:
        return len(v)
    if t is list or isinstance(v, dict):
        return len(v)
    raise Fail(f"invalid argument for len (type {go_type(v)})")


def _type(v: Any) -> str:
    if v is None:
        return "nil"
    t = type(v)
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float"
    if t is str:
        return "string"
    if t is list:
        return "array"
    if isinstance(v, dict):
        return "map"
    if t is datetime:
        return "time.Time"
    if t is Duration:
        return "time.Duration"
    if t in NAMED_INTS:
        return NAMED_INTS[t]
    return "unknown"


def _abs(v: Any) -> Any:
    t = type(v)
    if t is float:
        return abs(v)
    if t is int:
        return wrap(abs(v))
    raise Fail(f"invalid argument for abs (type {go_type(v)})")


def _rounder(name: str, op: Callable[[float], float]) -> Callable[[Any], float]:
    def run(v: Any) -> float:
        t = type(v)
        if t is float:
            if math.isinf(v) or math.isnan(v):
                return float(v)
            return op(v)
        if t is int:
            return float(v)
        raise Fail(f"invalid argument for {name} (type {go_type(v)})")

    return run


def _go_round(x: float) -> float:
    """math.Round: half away from zero."""
    t = float(math.trunc(x))
    if abs(x - t) >= 0.5:
        t += math.copysign(1.0, x)
    return math.copysign(t, x)


_ATOI: Final = re.compile(r"[+-]?[0-9]+")
_FLOAT: Final = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)


def _int(v: Any) -> int:
    t = type(v)
    if t is int or t in NAMED_INTS or t is Duration:
        return int(v)
    if t is float:
        return _trunc(v)
    if t is str:
        if _ATOI.fullmatch(v):
            n = int(v)
            if INT_MIN <= n <= INT_MAX:
                return n
        raise Fail(f"invalid operation: int({v})")
    raise Fail(f"invalid operation: int({go_type(v)})")


def _float(v: Any) -> float:
    t = type(v)
    if t is float:
        return float(v)
    if t is int:
        return float(v)
    if t is str:
        if _FLOAT.fullmatch(v):
            f = float(v)
            if not math.isinf(f) or "n" in v.lower():
                return f
            raise Fail(f'strconv.ParseFloat: parsing "{v}": value out of range')
        raise Fail(f'strconv.ParseFloat: parsing "{v}": invalid syntax')
    raise Fail(f"invalid operation: float({go_type(v)})")


def _bit(op: Callable[[int, int], int]) -> Callable[[Any, Any], int]:
    def run(a: Any, b: Any) -> int:
        if type(a) is not int or type(b) is not int:
            raise Fail(f"invalid operation: bitwise on {go_type(a)} and {go_type(b)}")
        return wrap(op(a, b))

    return run


def _shift_check(b: int) -> int:
    if b < 0:
        raise Fail(f"invalid operation: negative shift count {b}")
    return b


def _bitnot(a: Any) -> int:
    if type(a) is not int:
        raise Fail(f"invalid operation: bitnot on {go_type(a)}")
    return ~int(a)


def _repeat_cost(frame: Any, args: list[Any], pos: int) -> None:
    s, n = args
    if type(s) is str and type(n) in (int, float) and n > 0:
        charge_bytes(frame, len(s) * int(n), pos)


def _join_cost(frame: Any, args: list[Any], pos: int) -> None:
    items = args[0]
    glue = args[1] if len(args) > 1 else ""
    if type(items) is list and items and type(glue) is str:
        charge_steps(frame, len(items), pos)
        text = sum(len(x) for x in items if type(x) is str)
        charge_bytes(frame, text + len(glue) * (len(items) - 1), pos)


def _replace_cost(frame: Any, args: list[Any], pos: int) -> None:
    s, old, new = args[:3]
    if type(s) is str and type(old) is str and type(new) is str:
        hits = len(s) + 1 if old == "" else s.count(old)
        charge_bytes(frame, len(s) + hits * len(new), pos)


def _uniq_cost(frame: Any, args: list[Any], pos: int) -> None:
    # Scalars are looked up in a set; lists and maps are compared with each
    # kept one, quadratic in their number.
    items = args[0]
    if type(items) is list:
        charge_walk(frame, items, pos)
        nested = sum(1 for x in items if type(x) is list or isinstance(x, dict))
        charge_steps(frame, nested * nested // 2, pos)


def _walk_cost(frame: Any, args: list[Any], pos: int) -> None:
    for a in args:
        charge_walk(frame, a, pos)


_ROUND_ARGS: Final = frozenset({T_INT, T_FLOAT})

BUILTINS: Final[dict[str, Builtin]] = {
    "len": Builtin(_len, 1, 1, T_INT, frozenset({T_STR, T_LIST, T_MAP, T_NIL}), True),
    "type": Builtin(_type, 1, 1, T_STR),
    "abs": Builtin(_abs, 1, 1, "same", _ROUND_ARGS, True),
    "ceil": Builtin(
        _rounder("ceil", lambda x: float(math.ceil(x))), 1, 1, T_FLOAT, _ROUND_ARGS, True
    ),
    "floor": Builtin(
        _rounder("floor", lambda x: float(math.floor(x))), 1, 1, T_FLOAT, _ROUND_ARGS, True
    ),
    "round": Builtin(_rounder("round", _go_round), 1, 1, T_FLOAT, _ROUND_ARGS, True),
    "int": Builtin(_int, 1, 1, T_INT, frozenset({T_INT, T_FLOAT, T_STR}), True),
    "float": Builtin(_float, 1, 1, T_FLOAT, frozenset({T_INT, T_FLOAT, T_STR}), True),
    "string": Builtin(format_v, 1, 1, T_STR, walks=True),
    "trim": Builtin(_trim, 1, 2, T_STR),
    "trimPrefix": Builtin(_trim_prefix, 1, 2, T_STR),
    "trimSuffix": Builtin(_trim_suffix, 1, 2, T_STR),
    "upper": Builtin(_upper, 1, 1, T_STR),
    "lower": Builtin(_lower, 1, 1, T_STR),
    "split": Builtin(_split, 2, 3, T_LIST, elem=T_STR),
    "splitAfter": Builtin(_split_after, 2, 3, T_LIST, elem=T_STR),
    "replace": Builtin(_replace, 3, 4, T_STR, pre=_replace_cost),
    "repeat": Builtin(_repeat, 2, 2, T_STR, pre=_repeat_cost),
    "join": Builtin(_join, 1, 2, T_STR, pre=_join_cost),
    "indexOf": Builtin(_index_of, 2, 2, T_INT),
    "lastIndexOf": Builtin(_last_index_of, 2, 2, T_INT),
    "hasPrefix": Builtin(_has_prefix, 2, 2, T_BOOL),
    "hasSuffix": Builtin(_has_suffix, 2, 2, T_BOOL),
    "max": Builtin(
        _min_max("max"), 1, 255, T_ANY, frozenset({T_INT, T_FLOAT, T_LIST}), True, walks=True
    ),
    "min": Builtin(
        _min_max("min"), 1, 255, T_ANY, frozenset({T_INT, T_FLOAT, T_LIST}), True, walks=True
    ),
    "mean": Builtin(_mean, 1, 255, T_FLOAT, frozenset({T_INT, T_FLOAT, T_LIST}), True, walks=True),
    "median": Builtin(
        _median, 1, 255, T_FLOAT, frozenset({T_INT, T_FLOAT, T_LIST}), True, walks=True
    ),
    "toJSON": Builtin(to_json, 1, 1, T_STR, walks=True),
    "fromJSON": Builtin(from_json, 1, 1, T_ANY, walks=True),
    "toBase64": Builtin(_to_base64, 1, 1, T_STR),
    "fromBase64": Builtin(_from_base64, 1, 1, T_STR),
    "first": Builtin(_first, 1, 1, T_ANY, frozenset({T_LIST}), True),
    "last": Builtin(_last, 1, 1, T_ANY, frozenset({T_LIST}), True),
    "get": Builtin(get, 2, 2, T_ANY, validated=True),  # types checked by the compiler
    "take": Builtin(_take, 2, 2, T_LIST, frozenset({T_LIST}), True),
    "keys": Builtin(_keys, 1, 1, T_LIST, frozenset({T_MAP}), True),
    "values": Builtin(_values, 1, 1, T_LIST, frozenset({T_MAP}), True),
    "toPairs": Builtin(_to_pairs, 1, 1, T_LIST, frozenset({T_MAP}), True),
    "fromPairs": Builtin(_from_pairs, 1, 1, T_MAP, frozenset({T_LIST}), True),
    "reverse": Builtin(_reverse, 1, 1, T_LIST, frozenset({T_LIST}), True),
    "uniq": Builtin(_uniq, 1, 1, T_LIST, frozenset({T_LIST}), True, pre=_uniq_cost),
    "concat": Builtin(_concat, 1, 255, T_LIST, frozenset({T_LIST}), True, walks=True),
    "flatten": Builtin(_flatten, 1, 1, T_LIST, frozenset({T_LIST}), True, walks=True),
    "sort": Builtin(_sort, 1, 2, T_LIST, frozenset({T_LIST}), True),
    "bitand": Builtin(_bit(lambda a, b: a & b), 2, 2, T_INT),
    "bitor": Builtin(_bit(lambda a, b: a | b), 2, 2, T_INT),
    "bitxor": Builtin(_bit(lambda a, b: a ^ b), 2, 2, T_INT),
    "bitnand": Builtin(_bit(lambda a, b: a & ~b), 2, 2, T_INT),
    "bitnot": Builtin(_bitnot, 1, 1, T_INT),
    "bitshl": Builtin(_bit(lambda a, b: a << min(_shift_check(b), 64)), 2, 2, T_INT),
    "bitshr": Builtin(_bit(lambda a, b: a >> min(_shift_check(b), 64)), 2, 2, T_INT),
    "bitushr": Builtin(_bit(lambda a, b: (a % 2**64) >> min(_shift_check(b), 64)), 2, 2, T_INT),
    "now": Builtin(now, 0, 1, T_TIME, pure=False),
    "date": Builtin(make_date, 1, 4, T_TIME),
    "duration": Builtin(parse_duration, 1, 1, T_DURATION),
    "timezone": Builtin(load_zone, 1, 1, T_ANY),
}

# Predicate builtins are compiled specially (see _predicates.py); their
# result types are listed here for the checker.
PREDICATE_RESULTS: Final[dict[str, str]] = {
    "all": T_BOOL,
    "none": T_BOOL,
    "any": T_BOOL,
    "one": T_BOOL,
    "filter": T_LIST,
    "map": T_LIST,
    "count": T_INT,
    "sum": T_ANY,
    "find": T_ANY,
    "findIndex": T_ANY,
    "findLast": T_ANY,
    "findLastIndex": T_ANY,
    "groupBy": T_MAP,
    "sortBy": T_LIST,
    "reduce": T_ANY,
}

ALL_NAMES: Final = frozenset(BUILTINS) | frozenset(PREDICATE_RESULTS)

__all__ = ["ALL_NAMES", "BUILTINS", "PREDICATE_RESULTS", "Builtin", "LinkedMap", "get"]
