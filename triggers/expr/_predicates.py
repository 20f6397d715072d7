"""Closures for the builtins that take a predicate (``all``, ``filter``, ...).

A predicate reads the current element, its index and the reduce accumulator
from frame slots reserved at compile time, so nested predicates never
collide and no per-call dictionaries are built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ._collections import sort_key_check, sort_order
from ._errors import Fail
from ._values import go_type, wrap

Fn = Callable[[Mapping[str, Any], Any], Any]


def _items(v: Any, name: str, pos: int) -> list[Any]:
    if type(v) is list:
        return v
    if v is None:
        raise Fail("reflect: call of reflect.Value.Len on zero Value", pos)
    raise Fail(f"cannot use {go_type(v)} as array in {name}", pos)


def _bool(v: Any, pos: int) -> bool:
    if v is True or v is False:
        return bool(v)
    iface = "nil" if v is None else go_type(v)
    raise Fail(f"predicate should return boolean (got {iface})", pos)


def _add(total: Any, x: Any, pos: int) -> Any:
    tt = type(total)
    tx = type(x)
    if tt is int and tx is int:
        return wrap(total + x)
    if (tt is int or tt is float) and (tx is int or tx is float):
        return float(total) + float(x)
    raise Fail(f"invalid operation: {go_type(x)} + {go_type(total)}", pos)


def build(
    name: str,
    pos: int,
    lst: Fn,
    pred: Fn | None,
    extra: Fn | None,
    elem: int,
    index: int,
    acc: int,
) -> Fn:
    """Closure for ``name(lst, pred[, extra])``; ``elem``/``index``/``acc`` are slots."""
    if pred is None:
        # count(list) counts `true` elements; sum(list) adds the elements.
        def identity(env: Mapping[str, Any], fr: Any) -> Any:
            return fr[elem]

        pred = identity
    p: Fn = pred

    def each(env: Mapping[str, Any], fr: Any) -> Any:
        for i, x in enumerate(_items(lst(env, fr), name, pos)):
            fr[elem] = x
            fr[index] = i
            yield x, p(env, fr)

    if name == "all":

        def run_all(env: Mapping[str, Any], fr: Any) -> Any:
            return all(_bool(r, pos) for _, r in each(env, fr))

        return run_all
    if name == "any":

        def run_any(env: Mapping[str, Any], fr: Any) -> Any:
            return any(_bool(r, pos) for _, r in each(env, fr))

        return run_any
    if name == "none":

        def run_none(env: Mapping[str, Any], fr: Any) -> Any:
            return not any(_bool(r, pos) for _, r in each(env, fr))

        return run_none
    if name == "one":

        def run_one(env: Mapping[str, Any], fr: Any) -> Any:
            hits = 0
            for _, r in each(env, fr):
                if _bool(r, pos):
                    hits += 1
                    if hits > 1:
                        return False
            return hits == 1

        return run_one
    if name == "filter":

        def run_filter(env: Mapping[str, Any], fr: Any) -> Any:
            return [x for x, r in each(env, fr) if _bool(r, pos)]

        return run_filter
    if name == "map":

        def run_map(env: Mapping[str, Any], fr: Any) -> Any:
            return [r for _, r in each(env, fr)]

        return run_map
    if name == "count":

        def run_count(env: Mapping[str, Any], fr: Any) -> Any:
            return sum(1 for _, r in each(env, fr) if _bool(r, pos))

        return run_count
    if name == "sum":

        def run_sum(env: Mapping[str, Any], fr: Any) -> Any:
            total: Any = 0
            for _, r in each(env, fr):
                total = _add(total, r, pos)
            return total

        return run_sum
    if name in ("find", "findIndex"):
        want_index = name == "findIndex"

        def run_find(env: Mapping[str, Any], fr: Any) -> Any:
            for i, (x, r) in enumerate(each(env, fr)):
                if _bool(r, pos):
                    return i if want_index else x
            return None

        return run_find
    if name in ("findLast", "findLastIndex"):
        want_last_index = name == "findLastIndex"

        def run_find_last(env: Mapping[str, Any], fr: Any) -> Any:
            items = _items(lst(env, fr), name, pos)
            for i in range(len(items) - 1, -1, -1):
                fr[elem] = items[i]
                fr[index] = i
                if _bool(p(env, fr), pos):
                    return i if want_last_index else items[i]
            return None

        return run_find_last
    if name == "groupBy":

        def run_group_by(env: Mapping[str, Any], fr: Any) -> Any:
            groups: dict[Any, list[Any]] = {}
            for x, key in each(env, fr):
                if type(key) in (list, dict) or isinstance(key, dict):
                    raise Fail(
                        f"cannot use {go_type(key)} as a key for groupBy: type is not comparable",
                        pos,
                    )
                if type(key) is float and math.isnan(key):
                    key = "NaN"
                groups.setdefault(key, []).append(x)
            return groups

        return run_group_by
    if name == "sortBy":

        def run_sort_by(env: Mapping[str, Any], fr: Any) -> Any:
            desc = sort_order(extra(env, fr) if extra is not None else "asc")
            pairs = list(each(env, fr))
            try:
                sort_key_check([k for _, k in pairs])
            except Fail as exc:
                exc.pos = pos
                raise
            pairs.sort(key=lambda xk: xk[1], reverse=desc)
            return [x for x, _ in pairs]

        return run_sort_by
    if name == "reduce":

        def run_reduce(env: Mapping[str, Any], fr: Any) -> Any:
            items = _items(lst(env, fr), name, pos)
            start = 0
            if extra is not None:
                fr[acc] = extra(env, fr)
            elif items:
                fr[acc] = items[0]
                start = 1
            else:
                raise Fail("reduce of empty array with no initial value", pos)
            for i in range(start, len(items)):
                fr[elem] = items[i]
                fr[index] = i
                fr[acc] = p(env, fr)
            return fr[acc]

        return run_reduce
    raise AssertionError(name)
