"""Closure builders for calls and structural nodes (see _shapes.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._budget import charge_result, charge_steps
from ._errors import ChainNil, Fail
from ._time import NOT_TIME, call_method
from ._types import Fn
from ._values import expect_bool, fetch, go_type

# -- calls ----------------------------------------------------------------------
PreCharge = Callable[[Any, list[Any], int], None]


def call_builtin(
    fn: Callable[..., Any],
    fns: list[Fn],
    pos: int,
    pre: PreCharge | None = None,
    grows: bool = False,
) -> Fn:
    """``fn(*args)``; ``pre`` charges before the call, ``grows`` charges the result."""
    if pre is not None or grows:
        return _charged_builtin(fn, fns, pos, pre, grows)
    if len(fns) == 1:
        (a,) = fns

        def call1(env: Mapping[str, Any], frame: Any) -> Any:
            x = a(env, frame)
            try:
                return fn(x)
            except Fail as exc:
                if exc.pos < 0:
                    exc.pos = pos
                raise

        return call1

    def call(env: Mapping[str, Any], frame: Any) -> Any:
        args = [h(env, frame) for h in fns]
        try:
            return fn(*args)
        except Fail as exc:
            if exc.pos < 0:
                exc.pos = pos
            raise

    return call


def _charged_builtin(
    fn: Callable[..., Any], fns: list[Fn], pos: int, pre: PreCharge | None, grows: bool
) -> Fn:
    def call(env: Mapping[str, Any], frame: Any) -> Any:
        args = [h(env, frame) for h in fns]
        try:
            if frame is None:
                return fn(*args)
            if pre is not None:
                pre(frame, args, pos)
            result = fn(*args)
            return charge_result(frame, result, pos) if grows else result
        except Fail as exc:
            if exc.pos < 0:
                exc.pos = pos
            raise

    return call


def call_with_fetch(fn: Callable[[Any, list[Any]], Any], fns: list[Fn], pos: int) -> Fn:
    def call(env: Mapping[str, Any], frame: Any) -> Any:
        args = [h(env, frame) for h in fns]
        try:
            return fn(frame[0], args)
        except Fail as exc:
            if exc.pos < 0:
                exc.pos = pos
            raise

    return call


def call_value(callee: Fn, fns: list[Fn], pos: int) -> Fn:
    def call(env: Mapping[str, Any], frame: Any) -> Any:
        args = [h(env, frame) for h in fns]
        target = callee(env, frame)
        if target is None:
            raise Fail("invalid operation: cannot call nil", pos)
        if callable(target):
            # Host functions put in the env by the caller.
            return target(*args)
        raise Fail(f"invalid operation: cannot call non-function of type {go_type(target)}", pos)

    return call


def method_call(obj: Fn, name: str, fns: list[Fn], optional: bool, pos: int) -> Fn:
    def call(env: Mapping[str, Any], frame: Any) -> Any:
        o = obj(env, frame)
        if o is None and optional:
            raise ChainNil
        args = [h(env, frame) for h in fns]
        try:
            result = call_method(o, name, args)
        except Fail as exc:
            if exc.pos < 0:
                exc.pos = pos
            raise
        if result is not NOT_TIME:
            return result
        target = fetch(o, name, pos)
        if target is None:
            raise Fail("invalid operation: cannot call nil", pos)
        if callable(target):
            return target(*args)
        raise Fail(f"invalid operation: cannot call non-function of type {go_type(target)}", pos)

    return call


# -- structure --------------------------------------------------------------------
def array(fns: list[Fn]) -> Fn:
    n = len(fns)

    def array_(env: Mapping[str, Any], frame: Any) -> Any:
        if frame is not None:
            charge_steps(frame, n)
        return [h(env, frame) for h in fns]

    return array_


def map_literal(pairs: list[tuple[Fn, Fn]], pos: int) -> Fn:
    n = len(pairs)

    def build(env: Mapping[str, Any], frame: Any) -> Any:
        if frame is not None:
            charge_steps(frame, n, pos)
        out: dict[str, Any] = {}
        for kf, vf in pairs:
            k = kf(env, frame)
            v = vf(env, frame)
            if type(k) is not str:
                raise Fail(f"cannot use {go_type(k)} as map key", pos)
            if k not in out:  # upstream keeps the first duplicate
                out[k] = v
        return out

    return build


def conditional(c: Fn, t: Fn, o: Fn, elvis: bool, pos: int) -> Fn:
    def cond(env: Mapping[str, Any], frame: Any) -> Any:
        v = c(env, frame)
        if v is True:
            return True if elvis else t(env, frame)
        if v is False:
            return o(env, frame)
        return expect_bool(v, pos)

    return cond


def let(slot: int, value: Fn, body: Fn) -> Fn:
    def let_(env: Mapping[str, Any], frame: Any) -> Any:
        frame[slot] = value(env, frame)
        return body(env, frame)

    return let_


def sequence(fns: list[Fn]) -> Fn:
    def seq(env: Mapping[str, Any], frame: Any) -> Any:
        v = None
        for h in fns:
            v = h(env, frame)
        return v

    return seq
