"""Collection builtins: numbers, lists and maps (EXPR.md section 8)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ._errors import Fail
from ._format import format_v
from ._values import equal, go_type, less


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
    """First occurrences by ``==`` (1 and 1.0 are one value, NaN never repeats).

    Scalars are found in sets, so this is linear except among lists and maps.
    """
    out: list[Any] = []
    seen: set[Any] = set()  # (type, value) of kept non-numbers
    floats: set[float] = set()  # kept floats
    ints: set[int] = set()  # kept ints, exactly
    ints_as_floats: set[float] = set()  # what kept ints equal as floats
    nested: list[Any] = []
    for x in _list_arg(v, "uniq"):
        t = type(x)
        if t is float:
            if x != x or x in floats or x in ints_as_floats:
                if x != x:
                    out.append(x)
                continue
            floats.add(x)
        elif t is int:
            if x in ints or float(x) in floats:
                continue
            ints.add(x)
            ints_as_floats.add(float(x))
        elif t is list or isinstance(x, dict):
            if any(equal(x, y) for y in nested):
                continue
            nested.append(x)
        else:
            key = (t, x)
            if key in seen:
                continue
            seen.add(key)
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
