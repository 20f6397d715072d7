"""Plain (non-predicate) builtins of expr-lang (EXPR.md section 8).

Each entry declares its arity and, where upstream validates it, which
statically known argument types are rejected at compile time; the runtime
implementation re-checks types on the actual values.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ._decode import decode_json
from ._errors import Fail
from ._format import format_v, to_json
from ._values import INT_MAX, INT_MIN, LinkedMap, equal, go_type, less, wrap

# Static types, named like Go so checker messages read like upstream's.
T_ANY: Final = "unknown"
T_NIL: Final = "nil"
T_BOOL: Final = "bool"
T_INT: Final = "int"
T_FLOAT: Final = "float64"
T_STR: Final = "string"
T_LIST: Final = "[]interface {}"
T_MAP: Final = "map[string]interface {}"
NUMERIC: Final = frozenset({T_INT, T_FLOAT})


@dataclass(frozen=True, slots=True)
class Builtin:
    fn: Callable[..., Any]
    min_args: int
    max_args: int
    result: str = T_ANY
    # Statically known types accepted for the first argument (None: any).
    first: frozenset[str] | None = None
    validated: bool = False  # arity message in the "invalid number" form


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
    if t is int:
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


def _trim(s: Any, cutset: Any = None) -> str:
    if cutset is None:
        return as_str(s).strip()
    return as_str(s).strip(as_str(cutset))


def _trim_prefix(s: Any, prefix: Any = " ") -> str:
    return as_str(s).removeprefix(as_str(prefix))


def _trim_suffix(s: Any, suffix: Any = " ") -> str:
    return as_str(s).removesuffix(as_str(suffix))


_UPPER_KEEP: Final = {"ß": "ß", "ŉ": "ŉ", "ǰ": "ǰ", "ΐ": "ΐ", "ΰ": "ΰ", "և": "և"}


def _upper(s: Any) -> str:
    text = as_str(s)
    out = text.upper()
    if len(out) == len(text):
        return out
    # Python applies full case mappings (ß -> SS); Go maps rune by rune.
    return "".join(c if len(u := c.upper()) != 1 else u for c in text)


def _lower(s: Any) -> str:
    text = as_str(s)
    out = text.lower()
    if len(out) == len(text):
        return out
    return "".join(c if len(lc := c.lower()) != 1 else lc for c in text)


def _split_n(s: str, sep: str, n: int, after: bool) -> list[str]:
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if 0 < n < len(chars):
            chars = [*chars[: n - 1], "".join(chars[n - 1 :])]
        return chars
    parts = s.split(sep, n - 1) if n > 0 else s.split(sep)
    if after:
        parts = [p + sep for p in parts[:-1]] + parts[-1:]
    return parts


def _split(s: Any, sep: Any, n: Any = -1) -> list[Any]:
    return list(_split_n(as_str(s), as_str(sep), to_int(n), False))


def _split_after(s: Any, sep: Any, n: Any = -1) -> list[Any]:
    return list(_split_n(as_str(s), as_str(sep), to_int(n), True))


def _replace(s: Any, old: Any, new: Any, n: Any = -1) -> str:
    return as_str(s).replace(as_str(old), as_str(new), to_int(n))


def _repeat(s: Any, n: Any) -> str:
    count = to_int(n)
    if count < 0:
        raise Fail(f"invalid argument for repeat (expected positive integer, got {count})")
    if count > 1_000_000:
        raise Fail("memory budget exceeded")
    return as_str(s) * count


def _join(items: Any, glue: Any = "") -> str:
    if type(items) is not list:
        raise Fail(f"invalid argument for join (type {go_type(items)})")
    return as_str(glue).join(as_str(x) for x in items)


def _index_of(s: Any, sub: Any) -> int:
    return as_str(s).encode().find(as_str(sub).encode())


def _last_index_of(s: Any, sub: Any) -> int:
    return as_str(s).encode().rfind(as_str(sub).encode())


def _has_prefix(s: Any, p: Any) -> bool:
    return as_str(s).startswith(as_str(p))


def _has_suffix(s: Any, p: Any) -> bool:
    return as_str(s).endswith(as_str(p))


def _numbers(name: str, args: tuple[Any, ...], depth: int = 0) -> list[Any]:
    out: list[Any] = []
    for a in args:
        t = type(a)
        if t is int or t is float:
            out.append(a)
        elif t is list:
            if depth > 10_000:
                raise Fail("recursion depth exceeded")
            out.extend(_numbers(name, tuple(a), depth + 1))
        else:
            raise Fail(f"invalid argument for {name} (type {go_type(a)})")
    return out


def _min_max(name: str) -> Callable[..., Any]:
    op = "<" if name == "max" else ">"

    def run(*args: Any) -> Any:
        if len(args) == 1 and type(args[0]) not in (list, int, float):
            return args[0]
        best: Any = None
        for x in _numbers(name, args):
            if best is None or less(best, x, op, -1):
                best = x
        return best

    return run


def _mean(*args: Any) -> float:
    nums = _numbers("mean", args)
    return math.fsum(float(x) for x in nums) / len(nums) if nums else 0.0


def _median(*args: Any) -> float:
    nums = sorted(float(x) for x in _numbers("median", args))
    n = len(nums)
    if n == 0:
        return 0.0
    if n % 2:
        return nums[n // 2]
    return (nums[n // 2 - 1] + nums[n // 2]) / 2


def from_json(s: Any) -> Any:
    try:
        return decode_json(as_str(s))
    except ValueError as exc:
        raise Fail(str(exc)) from None


def _to_base64(s: Any) -> str:
    return base64.b64encode(as_str(s).encode()).decode()


def _from_base64(s: Any) -> str:
    try:
        return base64.b64decode(as_str(s), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as exc:
        raise Fail(f"illegal base64 data: {exc}") from None


def _first(v: Any) -> Any:
    if type(v) is list and v:
        return v[0]
    if type(v) is str and v:
        return v.encode()[0]
    return None


def _last(v: Any) -> Any:
    if type(v) is list and v:
        return v[-1]
    if type(v) is str and v:
        return v.encode()[-1]
    return None


def get(obj: Any, key: Any) -> Any:
    if isinstance(obj, dict):
        return obj.get(key) if type(key) is str else None
    t = type(obj)
    if t is list or t is str:
        kt = type(key)
        if kt is not int and kt is not float:
            return None
        i = int(key)
        seq: Any = obj.encode() if t is str else obj
        if i < 0:
            i += len(seq)
        return seq[i] if 0 <= i < len(seq) else None
    return None


def _take(v: Any, n: Any) -> list[Any]:
    if type(v) is not list:
        raise Fail(f"cannot take from {_kind(v)}")
    if type(n) is not int:
        raise Fail(f"cannot take {_kind(n)} elements")
    if n < 0:
        raise Fail(f"slice bounds out of range [:{n}]")
    return list(v[:n])


def _kind(v: Any) -> str:
    if v is None:
        return "invalid"
    t = type(v)
    if t is list:
        return "slice"
    if isinstance(v, dict):
        return "map"
    return go_type(v)


def _map_arg(v: Any, what: str) -> dict[str, Any]:
    if isinstance(v, dict):
        return v
    raise Fail(f"cannot {what} {_kind(v)}")


def _keys(v: Any) -> list[Any]:
    return list(_map_arg(v, "get keys from"))


def _values(v: Any) -> list[Any]:
    return list(_map_arg(v, "get values from").values())


def _to_pairs(v: Any) -> list[Any]:
    return [[k, x] for k, x in _map_arg(v, "transform to pairs").items()]


def _from_pairs(v: Any) -> dict[str, Any]:
    if type(v) is not list:
        raise Fail(f"cannot transform {_kind(v)} from pairs")
    out: dict[str, Any] = {}
    for pair in v:
        if type(pair) is not list:
            raise Fail(f"invalid pair {format_v(pair)}")
        if len(pair) != 2:
            raise Fail(f"invalid pair length {format_v(pair)}")
        key = pair[0]
        if type(key) is not str:
            raise Fail(f"cannot use {go_type(key)} as map key")
        out[key] = pair[1]
    return out


def _list_arg(v: Any, what: str) -> list[Any]:
    if type(v) is list:
        return list(v)
    raise Fail(f"cannot {what} {_kind(v)}")


def _reverse(v: Any) -> list[Any]:
    return _list_arg(v, "reverse")[::-1]


def _uniq(v: Any) -> list[Any]:
    out: list[Any] = []
    for x in _list_arg(v, "uniq"):
        if not any(equal(x, y) for y in out):
            out.append(x)
    return out


def _concat(*args: Any) -> list[Any]:
    out: list[Any] = []
    for a in args:
        out.extend(_list_arg(a, "concat"))
    return out


def _flatten(v: Any) -> list[Any]:
    out: list[Any] = []

    def walk(items: list[Any]) -> None:
        for x in items:
            if type(x) is list:
                walk(x)
            else:
                out.append(x)

    walk(_list_arg(v, "flatten"))
    return out


def sort_key_check(values: list[Any]) -> None:
    kinds = {("num" if type(x) in (int, float) else type(x).__name__) for x in values}
    odd = [x for x in values if type(x) not in (int, float, str)]
    if odd:
        raise Fail(f"cannot sort {go_type(odd[0])}")
    if len(kinds) > 1:
        raise Fail("cannot sort mixed types: float64 and string")


def sort_order(order: Any) -> bool:
    if type(order) is not str:
        raise Fail("sortBy order argument must be a string")
    if order not in ("asc", "desc"):
        raise Fail("unknown order, use asc or desc")
    return order == "desc"


def _sort(v: Any, order: Any = "asc") -> list[Any]:
    items = _list_arg(v, "sort")
    desc = sort_order(order)
    sort_key_check(items)
    return sorted(items, reverse=desc)


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


_ROUND_ARGS: Final = frozenset({T_INT, T_FLOAT})
_STRINGS: Final = frozenset({T_STR})

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
    "string": Builtin(format_v, 1, 1, T_STR),
    "trim": Builtin(_trim, 1, 2, T_STR),
    "trimPrefix": Builtin(_trim_prefix, 1, 2, T_STR),
    "trimSuffix": Builtin(_trim_suffix, 1, 2, T_STR),
    "upper": Builtin(_upper, 1, 1, T_STR),
    "lower": Builtin(_lower, 1, 1, T_STR),
    "split": Builtin(_split, 2, 3, T_LIST),
    "splitAfter": Builtin(_split_after, 2, 3, T_LIST),
    "replace": Builtin(_replace, 3, 4, T_STR),
    "repeat": Builtin(_repeat, 2, 2, T_STR),
    "join": Builtin(_join, 1, 2, T_STR),
    "indexOf": Builtin(_index_of, 2, 2, T_INT),
    "lastIndexOf": Builtin(_last_index_of, 2, 2, T_INT),
    "hasPrefix": Builtin(_has_prefix, 2, 2, T_BOOL),
    "hasSuffix": Builtin(_has_suffix, 2, 2, T_BOOL),
    "max": Builtin(_min_max("max"), 1, 255, T_ANY, frozenset({T_INT, T_FLOAT, T_LIST}), True),
    "min": Builtin(_min_max("min"), 1, 255, T_ANY, frozenset({T_INT, T_FLOAT, T_LIST}), True),
    "mean": Builtin(_mean, 1, 255, T_FLOAT, frozenset({T_INT, T_FLOAT, T_LIST}), True),
    "median": Builtin(_median, 1, 255, T_FLOAT, frozenset({T_INT, T_FLOAT, T_LIST}), True),
    "toJSON": Builtin(to_json, 1, 1, T_STR),
    "fromJSON": Builtin(from_json, 1, 1, T_ANY),
    "toBase64": Builtin(_to_base64, 1, 1, T_STR),
    "fromBase64": Builtin(_from_base64, 1, 1, T_STR),
    "first": Builtin(_first, 1, 1, T_ANY, frozenset({T_LIST}), True),
    "last": Builtin(_last, 1, 1, T_ANY, frozenset({T_LIST}), True),
    "get": Builtin(get, 2, 2, T_ANY),
    "take": Builtin(_take, 2, 2, T_LIST, frozenset({T_LIST}), True),
    "keys": Builtin(_keys, 1, 1, T_LIST, frozenset({T_MAP}), True),
    "values": Builtin(_values, 1, 1, T_LIST, frozenset({T_MAP}), True),
    "toPairs": Builtin(_to_pairs, 1, 1, T_LIST, frozenset({T_MAP}), True),
    "fromPairs": Builtin(_from_pairs, 1, 1, T_MAP, frozenset({T_LIST}), True),
    "reverse": Builtin(_reverse, 1, 1, T_LIST, frozenset({T_LIST}), True),
    "uniq": Builtin(_uniq, 1, 1, T_LIST, frozenset({T_LIST}), True),
    "concat": Builtin(_concat, 1, 255, T_LIST, frozenset({T_LIST}), True),
    "flatten": Builtin(_flatten, 1, 1, T_LIST, frozenset({T_LIST}), True),
    "sort": Builtin(_sort, 1, 2, T_LIST, frozenset({T_LIST}), True),
    "bitand": Builtin(_bit(lambda a, b: a & b), 2, 2, T_INT),
    "bitor": Builtin(_bit(lambda a, b: a | b), 2, 2, T_INT),
    "bitxor": Builtin(_bit(lambda a, b: a ^ b), 2, 2, T_INT),
    "bitnand": Builtin(_bit(lambda a, b: a & ~b), 2, 2, T_INT),
    "bitnot": Builtin(_bitnot, 1, 1, T_INT),
    "bitshl": Builtin(_bit(lambda a, b: a << min(_shift_check(b), 64)), 2, 2, T_INT),
    "bitshr": Builtin(_bit(lambda a, b: a >> min(_shift_check(b), 64)), 2, 2, T_INT),
    "bitushr": Builtin(_bit(lambda a, b: (a % 2**64) >> min(_shift_check(b), 64)), 2, 2, T_INT),
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
