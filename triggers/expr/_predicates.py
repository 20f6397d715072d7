"""Closures for the builtins that take a predicate (``all``, ``filter``, ...).

A predicate reads the current element, its index and the reduce accumulator
from frame slots reserved at compile time, so nested predicates never
collide and no per-call dictionaries are built.  ``BUILDERS`` maps each
builtin's name to the function that builds its closure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from ._budget import STEPS_SLOT, charge_steps
from ._collections import sort_key_check, sort_order
from ._errors import Fail
from ._types import Fn
from ._values import go_type, wrap


@dataclass(frozen=True, slots=True)
class PredicateCall:
    """``name(items, pred[, extra])`` as compiled; ``elem``/``index``/``acc`` are slots."""

    name: str
    pos: int
    items: Fn
    pred: Fn | None
    extra: Fn | None
    elem: int
    index: int
    acc: int = 0

    def body(self) -> Fn:
        """The predicate; without one, the element itself (``count``, ``sum``)."""
        if self.pred is not None:
            return self.pred
        elem = self.elem

        def identity(env: Mapping[str, Any], frame: Any) -> Any:
            return frame[elem]

        return identity

    def list_of(self, env: Mapping[str, Any], frame: Any) -> list[Any]:
        v = self.items(env, frame)
        if type(v) is not list:
            self.not_a_list(v)
        # n steps up front, even if `any`/`find` stop early: one charge per call.
        charge_steps(frame, len(v), self.pos)
        return v

    def not_a_list(self, v: Any) -> NoReturn:
        if v is None:
            raise Fail("reflect: call of reflect.Value.Len on zero Value", self.pos)
        raise Fail(f"cannot use {go_type(v)} as array in {self.name}", self.pos)


Each = Callable[[Mapping[str, Any], Any], Iterator[tuple[Any, Any]]]


def _each(call: PredicateCall) -> Each:
    """Iterate (element, predicate result) with the slots set for the body."""
    body = call.body()
    elem, index, items, pos, not_a_list = (
        call.elem,
        call.index,
        call.items,
        call.pos,
        call.not_a_list,
    )
    steps = STEPS_SLOT  # a closure cell reads faster than a module global

    def each(env: Mapping[str, Any], frame: Any) -> Iterator[tuple[Any, Any]]:
        v = items(env, frame)
        if type(v) is not list:
            not_a_list(v)
        # Inlined charge_steps: this is the hot loop of `any(...)` filters.
        left = frame[steps] - len(v)
        if left < 0:
            charge_steps(frame, len(v), pos)
        frame[steps] = left
        for i, x in enumerate(v):
            frame[elem] = x
            frame[index] = i
            yield x, body(env, frame)

    return each


def _bool(v: Any, pos: int) -> bool:
    if v is True or v is False:
        return bool(v)
    iface = "nil" if v is None else go_type(v)
    raise Fail(f"predicate should return boolean (got {iface})", pos)


def _all(call: PredicateCall) -> Fn:
    each, pos = _each(call), call.pos
    return lambda env, frame: all(_bool(r, pos) for _, r in each(env, frame))


def _any(call: PredicateCall) -> Fn:
    each, pos = _each(call), call.pos
    return lambda env, frame: any(_bool(r, pos) for _, r in each(env, frame))


def _none(call: PredicateCall) -> Fn:
    each, pos = _each(call), call.pos
    return lambda env, frame: not any(_bool(r, pos) for _, r in each(env, frame))


def _one(call: PredicateCall) -> Fn:
    each, pos = _each(call), call.pos

    def one(env: Mapping[str, Any], frame: Any) -> Any:
        hits = 0
        for _, r in each(env, frame):
            if _bool(r, pos):
                hits += 1
                if hits > 1:
                    return False
        return hits == 1

    return one


def _filter(call: PredicateCall) -> Fn:
    each, pos = _each(call), call.pos
    return lambda env, frame: [x for x, r in each(env, frame) if _bool(r, pos)]


def _map(call: PredicateCall) -> Fn:
    each = _each(call)
    return lambda env, frame: [r for _, r in each(env, frame)]


def _count(call: PredicateCall) -> Fn:
    each, pos = _each(call), call.pos
    return lambda env, frame: sum(1 for _, r in each(env, frame) if _bool(r, pos))


def _add(total: Any, x: Any, pos: int) -> Any:
    tt = type(total)
    tx = type(x)
    if tt is int and tx is int:
        return wrap(total + x)
    if (tt is int or tt is float) and (tx is int or tx is float):
        return float(total) + float(x)
    raise Fail(f"invalid operation: {go_type(x)} + {go_type(total)}", pos)


def _sum(call: PredicateCall) -> Fn:
    each, pos = _each(call), call.pos

    def sum_(env: Mapping[str, Any], frame: Any) -> Any:
        total: Any = 0
        for _, r in each(env, frame):
            total = _add(total, r, pos)
        return total

    return sum_


def _find(call: PredicateCall) -> Fn:
    each, pos = _each(call), call.pos
    want_index = call.name == "findIndex"

    def find(env: Mapping[str, Any], frame: Any) -> Any:
        for i, (x, r) in enumerate(each(env, frame)):
            if _bool(r, pos):
                return i if want_index else x
        return None

    return find


def _find_last(call: PredicateCall) -> Fn:
    body, pos, elem, index, list_of = call.body(), call.pos, call.elem, call.index, call.list_of
    want_index = call.name == "findLastIndex"

    def find_last(env: Mapping[str, Any], frame: Any) -> Any:
        items = list_of(env, frame)
        for i in range(len(items) - 1, -1, -1):
            frame[elem] = items[i]
            frame[index] = i
            if _bool(body(env, frame), pos):
                return i if want_index else items[i]
        return None

    return find_last


def _group_by(call: PredicateCall) -> Fn:
    each, pos = _each(call), call.pos

    def group_by(env: Mapping[str, Any], frame: Any) -> Any:
        groups: dict[Any, list[Any]] = {}
        for x, key in each(env, frame):
            if type(key) in (list, dict) or isinstance(key, dict):
                raise Fail(
                    f"cannot use {go_type(key)} as a key for groupBy: type is not comparable", pos
                )
            if type(key) is float and math.isnan(key):
                key = "NaN"
            groups.setdefault(key, []).append(x)
        return groups

    return group_by


def _sort_by(call: PredicateCall) -> Fn:
    each, pos, extra = _each(call), call.pos, call.extra

    def sort_by(env: Mapping[str, Any], frame: Any) -> Any:
        desc = sort_order(extra(env, frame) if extra is not None else "asc")
        pairs = list(each(env, frame))
        try:
            sort_key_check([k for _, k in pairs])
        except Fail as exc:
            exc.pos = pos
            raise
        pairs.sort(key=lambda xk: xk[1], reverse=desc)
        return [x for x, _ in pairs]

    return sort_by


def _reduce(call: PredicateCall) -> Fn:
    body, pos, extra, list_of = call.body(), call.pos, call.extra, call.list_of
    elem, index, acc = call.elem, call.index, call.acc

    def reduce(env: Mapping[str, Any], frame: Any) -> Any:
        items = list_of(env, frame)
        start = 0
        if extra is not None:
            frame[acc] = extra(env, frame)
        elif items:
            frame[acc] = items[0]
            start = 1
        else:
            raise Fail("reduce of empty array with no initial value", pos)
        for i in range(start, len(items)):
            frame[elem] = items[i]
            frame[index] = i
            frame[acc] = body(env, frame)
        return frame[acc]

    return reduce


BUILDERS: dict[str, Callable[[PredicateCall], Fn]] = {
    "all": _all,
    "any": _any,
    "none": _none,
    "one": _one,
    "filter": _filter,
    "map": _map,
    "count": _count,
    "sum": _sum,
    "find": _find,
    "findIndex": _find,
    "findLast": _find_last,
    "findLastIndex": _find_last,
    "groupBy": _group_by,
    "sortBy": _sort_by,
    "reduce": _reduce,
}


def build(call: PredicateCall) -> Fn:
    """The closure of a predicate builtin call."""
    return BUILDERS[call.name](call)
