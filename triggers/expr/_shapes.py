"""Closure builders, one per node shape, with fast paths for the hot shapes.

The filter runs for every inbound event, so the common cases skip the
generic helpers of _values.py: member paths on dicts are one loop over
pre-split steps, comparisons with a constant capture it, arithmetic on two
floats (every JSON number) is tried first.  Each fast path falls back to the
generic helper, which carries the full Go semantics and error messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import re2

from . import _ast as syntax
from ._budget import SCAN_STEP, charge_bytes, charge_scan, charge_steps, charge_walk
from ._errors import ChainNil, Fail
from ._regex import PatternError, compile_re2, search
from ._types import Compiled, Fn
from ._values import (
    arith,
    contains_in,
    equal,
    expect_bool,
    fetch,
    go_type,
    less,
    plus,
    slice_of,
)
from ._values import (
    negate as negate_value,
)

Step = tuple[str | int, bool, int]


def env_lookup(name: str) -> Fn:
    def lookup(env: Mapping[str, Any], frame: Any) -> Any:
        return env.get(name)

    return lookup


def logical_not(f: Fn, pos: int) -> Fn:
    def not_(env: Mapping[str, Any], frame: Any) -> Any:
        v = f(env, frame)
        if v is True:
            return False
        if v is False:
            return True
        return not expect_bool(v, pos)

    return not_


def negate(f: Fn, pos: int) -> Fn:
    def neg(env: Mapping[str, Any], frame: Any) -> Any:
        return negate_value(f(env, frame), pos)

    return neg


def unary_plus(f: Fn, pos: int) -> Fn:
    def pos_(env: Mapping[str, Any], frame: Any) -> Any:
        return plus(f(env, frame), pos)

    return pos_


# -- comparisons ------------------------------------------------------------
def equality(left: Compiled, right: Compiled, negated: bool) -> Fn:
    if left.const and not right.const:
        left, right = right, left
    f = left.fn
    if right.const:
        c = right.value
        tc = type(c)
        if tc is str:
            if negated:
                return lambda env, frame: f(env, frame) != c
            # Only a str can equal a str, so Python's == is Go's here.
            return lambda env, frame: f(env, frame) == c
        if c is None or tc is bool:
            if negated:
                return lambda env, frame: f(env, frame) is not c
            return lambda env, frame: f(env, frame) is c
        if tc is int or tc is float:
            fc = float(c)
            c_is_int = tc is int

            def eq_num(env: Mapping[str, Any], frame: Any) -> Any:
                v = f(env, frame)
                t = type(v)
                if t is float:
                    return (v == fc) is not negated
                if t is int:
                    return (v == c if c_is_int else float(v) == fc) is not negated
                return negated

            return eq_num
    g = right.fn

    def eq(env: Mapping[str, Any], frame: Any) -> Any:
        a = f(env, frame)
        b = g(env, frame)
        ta = type(a)
        if ta is type(b) and (ta is list or ta is dict):
            charge_walk(frame, a)  # equal() walks both sides in step
        return equal(a, b) is not negated

    return eq


def ordering(left: Compiled, right: Compiled, op: str, pos: int) -> Fn:
    f = left.fn
    if right.const and type(right.value) in (int, float):
        c = right.value
        if op == ">":

            def gt(env: Mapping[str, Any], frame: Any) -> Any:
                v = f(env, frame)
                t = type(v)
                if t is float or t is int:
                    return v > c
                return less(v, c, op, pos)

            return gt
        if op == "<":

            def less_than(env: Mapping[str, Any], frame: Any) -> Any:
                v = f(env, frame)
                t = type(v)
                if t is float or t is int:
                    return v < c
                return less(v, c, op, pos)

            return less_than
    g = right.fn
    return lambda env, frame: less(f(env, frame), g(env, frame), op, pos)


def logical(f: Fn, g: Fn, is_and: bool, pos: int, rpos: int) -> Fn:
    if is_and:

        def and_(env: Mapping[str, Any], frame: Any) -> Any:
            v = f(env, frame)
            if v is True:
                r = g(env, frame)
                if r is True or r is False:
                    return r
                return expect_bool(r, pos)
            if v is False:
                return False
            return expect_bool(v, pos)

        return and_

    def or_(env: Mapping[str, Any], frame: Any) -> Any:
        v = f(env, frame)
        if v is False:
            r = g(env, frame)
            if r is True or r is False:
                return r
            return expect_bool(r, pos)
        if v is True:
            return True
        return expect_bool(v, pos)

    return or_


# -- arithmetic ---------------------------------------------------------------
def arithmetic(op: str, left: Compiled, right: Compiled, pos: int) -> Fn:
    f, g = left.fn, right.fn
    if op == "+":

        def add(env: Mapping[str, Any], frame: Any) -> Any:
            a = f(env, frame)
            b = g(env, frame)
            if type(a) is float and type(b) is float:
                return a + b
            r = arith("+", a, b, pos)
            if type(r) is str:
                charge_bytes(frame, len(r), pos)
            return r

        return add
    if op == "-":

        def sub(env: Mapping[str, Any], frame: Any) -> Any:
            a = f(env, frame)
            b = g(env, frame)
            if type(a) is float and type(b) is float:
                return a - b
            return arith("-", a, b, pos)

        return sub
    if op == "*":

        def mul(env: Mapping[str, Any], frame: Any) -> Any:
            a = f(env, frame)
            b = g(env, frame)
            if type(a) is float and type(b) is float:
                return a * b
            return arith("*", a, b, pos)

        return mul
    if op == "/":

        def div(env: Mapping[str, Any], frame: Any) -> Any:
            a = f(env, frame)
            b = g(env, frame)
            if type(a) is float and type(b) is float and b:
                return a / b
            return arith("/", a, b, pos)

        return div
    name = "**" if op == "^" else op
    return lambda env, frame: arith(name, f(env, frame), g(env, frame), pos)


def coalesce(f: Fn, g: Fn) -> Fn:
    def coalesce_(env: Mapping[str, Any], frame: Any) -> Any:
        v = f(env, frame)
        return g(env, frame) if v is None else v

    return coalesce_


def range_of(f: Fn, g: Fn, pos: int) -> Fn:
    def range_(env: Mapping[str, Any], frame: Any) -> Any:
        a, b = f(env, frame), g(env, frame)
        lo, hi = _range_bound(a, b, pos), _range_bound(b, a, pos)
        if frame is None and hi - lo > 1_000_000:  # pragma: no cover - ranges get a frame
            raise Fail("memory budget exceeded", pos)
        charge_steps(frame, max(hi - lo + 1, 0), pos)
        return list(range(lo, hi + 1))

    return range_


def _range_bound(v: Any, other: Any, pos: int) -> int:
    t = type(v)
    if t is int:
        return int(v)
    if t is float:
        return int(v)
    raise Fail(f"invalid operation: {go_type(v)} .. {go_type(other)}", pos)


# -- strings and membership ---------------------------------------------------
def string_op(op: str, f: Fn, g: Fn, pos: int) -> Fn:
    def str_op(env: Mapping[str, Any], frame: Any) -> Any:
        a = f(env, frame)
        b = g(env, frame)
        if type(a) is str and type(b) is str:
            if op == "startsWith":
                return a.startswith(b)
            if op == "endsWith":
                return a.endswith(b)
            if frame is not None and len(a) > SCAN_STEP:
                charge_scan(frame, len(a), pos)
            return b in a
        if a is None or b is None:
            return False
        bad = b if type(a) is str else a
        raise Fail(f"interface conversion: interface {{}} is {go_type(bad)}, not string", pos)

    if op == "startsWith":
        # Hot in filters on account addresses: `.destination startsWith "users:"`.
        def starts(env: Mapping[str, Any], frame: Any) -> Any:
            a = f(env, frame)
            b = g(env, frame)
            if type(a) is str and type(b) is str:
                return a.startswith(b)
            return str_op(env, frame)

        return starts
    return str_op


def in_string_set(f: Fn, keys: frozenset[str], pos: int) -> Fn:
    def in_set(env: Mapping[str, Any], frame: Any) -> Any:
        v = f(env, frame)
        if type(v) is str:
            return v in keys
        if v is None:
            return "" in keys  # Go looks nil up as the zero string
        raise Fail(f"cannot use {go_type(v)} as field name of map[string]struct {{}}", pos)

    return in_set


def membership(f: Fn, g: Fn, pos: int) -> Fn:
    def in_(env: Mapping[str, Any], frame: Any) -> Any:
        needle = f(env, frame)
        hay = g(env, frame)
        if type(hay) is list:
            charge_walk(frame, hay, pos)  # needle compared with every element
        return contains_in(needle, hay, pos)

    return in_


def matches_const(f: Fn, rx: re2._Regexp[str], pos: int) -> Fn:
    def match(env: Mapping[str, Any], frame: Any) -> Any:
        v = f(env, frame)
        if type(v) is str:
            if frame is not None and len(v) > SCAN_STEP:
                charge_scan(frame, len(v), pos)
            return search(rx, v)
        if v is None:
            return False
        raise Fail(f"interface conversion: interface {{}} is {go_type(v)}, not []uint8", pos)

    return match


def matches_dynamic(f: Fn, g: Fn, pos: int) -> Fn:
    def match(env: Mapping[str, Any], frame: Any) -> Any:
        v = f(env, frame)
        p = g(env, frame)
        if v is None or p is None:
            return False
        if type(p) is not str:
            raise Fail(f"interface conversion: interface {{}} is {go_type(p)}, not string", pos)
        if type(v) is not str:
            raise Fail(f"interface conversion: interface {{}} is {go_type(v)}, not []uint8", pos)
        try:
            rx = compile_re2(p)
        except PatternError as exc:
            raise Fail(str(exc), pos) from None
        charge_scan(frame, len(v) + len(p), pos)
        return search(rx, v)

    return match


# -- member access ------------------------------------------------------------
def flatten_path(node: syntax.Member) -> tuple[str, list[Step]] | None:
    """``ident.a[0].b`` with constant keys and no ``?.`` -> (ident, steps)."""
    steps: list[Step] = []
    cur: syntax.Node = node
    while isinstance(cur, syntax.Member):
        if cur.optional or not isinstance(cur.prop, syntax.Literal):
            return None
        key = cur.prop.value
        if type(key) is str:
            steps.append((key, True, cur.pos))
        elif type(key) is int:
            steps.append((key, False, cur.pos))
        else:
            return None
        cur = cur.obj
    if not isinstance(cur, syntax.Ident):
        return None
    steps.reverse()
    return cur.name, steps


def path_access(root: str, steps: list[Step]) -> Fn:
    if len(steps) == 1 and steps[0][1]:
        k1, _, p1 = steps[0]

        def path1(env: Mapping[str, Any], frame: Any) -> Any:
            v = env.get(root)
            if type(v) is dict:
                return v.get(k1)
            return fetch(v, k1, p1)

        return path1
    frozen = tuple(steps)

    def path(env: Mapping[str, Any], frame: Any) -> Any:
        v = env.get(root)
        for k, is_key, p in frozen:
            if is_key:
                if type(v) is dict:
                    v = v.get(k)
                    continue
            elif type(v) is list:
                try:
                    v = v[k]  # type: ignore[index]
                    continue
                except IndexError:
                    pass
            v = fetch(v, k, p)
        return v

    return path


def member(f: Fn, prop: Compiled, optional: bool, pos: int) -> Fn:
    if prop.const and type(prop.value) is str:
        k = prop.value

        def member_key(env: Mapping[str, Any], frame: Any) -> Any:
            o = f(env, frame)
            if type(o) is dict:
                return o.get(k)
            if o is None and optional:
                raise ChainNil
            return fetch(o, k, pos)

        return member_key
    g = prop.fn

    def member_any(env: Mapping[str, Any], frame: Any) -> Any:
        o = f(env, frame)
        if o is None and optional:
            raise ChainNil
        return fetch(o, g(env, frame), pos)

    return member_any


def chain(f: Fn) -> Fn:
    def chain_(env: Mapping[str, Any], frame: Any) -> Any:
        try:
            return f(env, frame)
        except ChainNil:
            return None

    return chain_


def slice_(f: Fn, lo: Fn | None, hi: Fn | None, pos: int) -> Fn:
    def slicer(env: Mapping[str, Any], frame: Any) -> Any:
        o = f(env, frame)
        a = lo(env, frame) if lo is not None else None
        b = hi(env, frame) if hi is not None else None
        return slice_of(o, a, b, pos)

    return slicer


__all__ = ["ChainNil", "go_type"]
