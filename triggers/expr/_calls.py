"""Closure builders for calls and structural nodes (see _shapes.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._errors import ChainNil, Fail
from ._time import NOT_TIME, call_method
from ._values import expect_bool, fetch, go_type

Fn = Callable[[Mapping[str, Any], Any], Any]


# -- calls ----------------------------------------------------------------------
def call_builtin(fn: Callable[..., Any], fns: list[Fn], pos: int) -> Fn:
    if len(fns) == 1:
        (a,) = fns

        def call1(env: Mapping[str, Any], fr: Any) -> Any:
            x = a(env, fr)
            try:
                return fn(x)
            except Fail as exc:
                if exc.pos < 0:
                    exc.pos = pos
                raise

        return call1

    def call(env: Mapping[str, Any], fr: Any) -> Any:
        args = [h(env, fr) for h in fns]
        try:
            return fn(*args)
        except Fail as exc:
            if exc.pos < 0:
                exc.pos = pos
            raise

    return call


def call_with_fetch(fn: Callable[[Any, list[Any]], Any], fns: list[Fn], pos: int) -> Fn:
    def call(env: Mapping[str, Any], fr: Any) -> Any:
        args = [h(env, fr) for h in fns]
        try:
            return fn(fr[0], args)
        except Fail as exc:
            if exc.pos < 0:
                exc.pos = pos
            raise

    return call


def call_value(callee: Fn, fns: list[Fn], pos: int) -> Fn:
    def call(env: Mapping[str, Any], fr: Any) -> Any:
        args = [h(env, fr) for h in fns]
        target = callee(env, fr)
        if target is None:
            raise Fail("invalid operation: cannot call nil", pos)
        if callable(target):
            # Host functions put in the env by the caller.
            return target(*args)
        raise Fail(f"invalid operation: cannot call non-function of type {go_type(target)}", pos)

    return call


def method_call(obj: Fn, name: str, fns: list[Fn], optional: bool, pos: int) -> Fn:
    def call(env: Mapping[str, Any], fr: Any) -> Any:
        o = obj(env, fr)
        if o is None and optional:
            raise ChainNil
        args = [h(env, fr) for h in fns]
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
    return lambda env, fr: [h(env, fr) for h in fns]


def map_literal(pairs: list[tuple[Fn, Fn]], pos: int) -> Fn:
    def build(env: Mapping[str, Any], fr: Any) -> Any:
        out: dict[str, Any] = {}
        for kf, vf in pairs:
            k = kf(env, fr)
            v = vf(env, fr)
            if type(k) is not str:
                raise Fail(f"cannot use {go_type(k)} as map key", pos)
            if k not in out:  # upstream keeps the first duplicate
                out[k] = v
        return out

    return build


def conditional(c: Fn, t: Fn, o: Fn, elvis: bool, pos: int) -> Fn:
    def cond(env: Mapping[str, Any], fr: Any) -> Any:
        v = c(env, fr)
        if v is True:
            return True if elvis else t(env, fr)
        if v is False:
            return o(env, fr)
        return expect_bool(v, pos)

    return cond


def let(slot: int, value: Fn, body: Fn) -> Fn:
    def let_(env: Mapping[str, Any], fr: Any) -> Any:
        fr[slot] = value(env, fr)
        return body(env, fr)

    return let_


def sequence(fns: list[Fn]) -> Fn:
    def seq(env: Mapping[str, Any], fr: Any) -> Any:
        v = None
        for h in fns:
            v = h(env, fr)
        return v

    return seq
