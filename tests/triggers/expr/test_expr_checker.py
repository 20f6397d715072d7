"""Static checks between literal types (EXPR.md 1, 5-7, 10; issue 11 item 6).

Upstream's checker knows only literals, builtin results and what flows from
them (a literal array's element type, ``#`` over it, a ``let`` bound to it):
those mistakes are compile errors.  The same shapes written against
``event`` fields, whose type is unknown at compile time, must keep compiling.
Expected messages are upstream's checker messages.
"""

from __future__ import annotations

from typing import Any

import pytest

from triggers import expr

pytestmark = pytest.mark.unit


def compile_error(src: str) -> str:
    with pytest.raises(expr.CompileError) as info:
        expr.compile(src)
    return info.value.message


def run(src: str, event: Any = None) -> Any:
    return expr.compile(src).run({"event": event})


def run_error(src: str, event: Any = None) -> str:
    prog = expr.compile(src)
    with pytest.raises(expr.EvalError) as info:
        prog.run({"event": event})
    return info.value.message


# -- predicates --------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("all([1, 2], {# + 1})", "predicate should return boolean (got int)"),
        ("any([1, 2], # * 2)", "predicate should return boolean (got int)"),
        ('none(["a"], #)', "predicate should return boolean (got string)"),
        ("one([1.5], # + 1)", "predicate should return boolean (got float64)"),
        ('filter([1, 2], {"a"})', "predicate should return boolean (got string)"),
        ('find([1], "x")', "predicate should return boolean (got string)"),
        ("findIndex(1..3, # * 2)", "predicate should return boolean (got int)"),
        ("findLast([[1]], #)", "predicate should return boolean (got []interface {})"),
        (
            "findLastIndex([{a: 1}], #)",
            "predicate should return boolean (got map[string]interface {})",
        ),
        ("count([1, 2], #)", "predicate should return boolean (got int)"),
        ('all(split("a,b", ","), # + "x")', "predicate should return boolean (got string)"),
        ("let xs = [1, 2]; all(xs, # + 1)", "predicate should return boolean (got int)"),
        ("filter(map([1], # + 1), #)", "predicate should return boolean (got int)"),
        ("filter(filter([1], # > 0), #)", "predicate should return boolean (got int)"),
        ("all([true], 1)", "predicate should return boolean (got int)"),
        ("all([1], len(#))", "invalid argument for len (type int)"),
        ("map([1], nil)", "predicate should has one input and one output param"),
        ("reduce([1], nil)", "predicate should has two input and one output param"),
        ('any([1], # == "a")', "invalid operation: == (mismatched types int and string)"),
        ("any([1], .x)", "type int has no field x"),
    ],
)
def test_predicate_visibly_not_boolean_is_rejected(src: str, message: str) -> None:
    assert compile_error(src) == message


@pytest.mark.parametrize(
    ("src", "event", "expected"),
    [
        ("all([1, 2], # > 0)", None, True),
        ("all([true, false], #)", None, False),
        ("all([1, 'a'], # == 1)", None, False),  # mixed items: `#` has no known type
        ("any([event.a, 1], # > 1)", {"a": 2.0}, True),
        ("filter(event.xs, #.ok)", {"xs": [{"ok": True}, {"ok": False}]}, [{"ok": True}]),
        ("count([true, false, true])", None, 2),
        ("map([1, 2], # + 1)", None, [2, 3]),
        ("sum([1, 2], # * 2)", None, 6),
        ("sortBy([2, 1], #)", None, [1, 2]),
        ("groupBy([1], # + 1)", None, {2: [1]}),
        ("reduce([1, 2], #acc + #)", None, 3),
        ("find(event.xs, # > 1)", {"xs": [1.0, 2.0]}, 2.0),
        ("all([], # + 1)", None, True),  # empty literal: element type unknown
    ],
)
def test_predicates_still_accepted(src: str, event: Any, expected: Any) -> None:
    assert run(src, event) == expected


def test_predicate_on_event_list_fails_at_run_time() -> None:
    message = run_error("all(event.xs, {# + 1})", {"xs": [1.0]})
    assert message == "predicate should return boolean (got float64)"


# -- get, indexing, member access, slicing -----------------------------------


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("1[0]", "type int[int] is undefined"),
        ('"abc"[0]', "type string[int] is undefined"),
        ('"abc".foo', "type string has no field foo"),
        ("true.x", "type bool has no field x"),
        ("nil.x", "type nil has no field x"),
        ("nil?.x", "type nil has no field x"),
        ("(1.5)['k']", "type float64 has no field k"),
        ("[1, 2]['a']", "array elements can only be selected using an integer (got string)"),
        ("[1, 2][1.5]", "array elements can only be selected using an integer (got float64)"),
        ("{a: 1}[0]", "cannot use int to get an element from map[string]interface {}"),
        ("[[1]][0].x", "array elements can only be selected using an integer (got string)"),
        ("get(true, 0)", "type bool does not support indexing"),
        ('get(1, "a")', "type int does not support indexing"),
        ('get("abc", 0)', "type string does not support indexing"),
        ("get(nil, 0)", "type nil does not support indexing"),
        ('get([1], "a")', "non-integer slice index string"),
        ("get(1..2, 0.5)", "non-integer slice index float64"),
        ("get([1], nil)", "non-integer slice index nil"),
        ("get({a: 1}, 1)", "cannot use int to get an element from map[string]interface {}"),
        ("get([1])", "invalid number of arguments (expected 2, got 1)"),
        ("1[1:2]", "cannot slice int"),
        ("true[:]", "cannot slice bool"),
        ("{a: 1}[0:1]", "cannot slice map[string]interface {}"),
        ("nil[1:]", "cannot slice nil"),
        ("[1, 2][0.5:]", "non-integer slice index float64"),
        ('"abc"[:"b"]', "non-integer slice index string"),
    ],
)
def test_indexing_a_literal_that_cannot_be_indexed_is_rejected(src: str, message: str) -> None:
    assert compile_error(src) == message


@pytest.mark.parametrize(
    ("src", "event", "expected"),
    [
        ("get(event, 0)", None, None),
        ("get(event.l, 5)", {"l": [1.0]}, None),
        ("get([1, 2], event.i)", {"i": 1.0}, 2),
        ("get([1, 2], -1)", None, 2),
        ('get({a: 1}, "a")', None, 1),
        ('get($env, "event")', {"a": 1.0}, {"a": 1.0}),
        ("[1, 2][event.i]", {"i": 0.0}, 1),
        ("event.s[1:]", {"s": "abc"}, "bc"),
        ("[1, 2, 3][event.i:]", {"i": 1.0}, [2, 3]),
        ("event.missing?.x", {}, None),
        ('$env["event"].a', {"a": "x"}, "x"),
        ("[[1]][0][0]", None, 1),
    ],
)
def test_indexing_still_accepted(src: str, event: Any, expected: Any) -> None:
    assert run(src, event) == expected


def test_indexing_event_values_fails_at_run_time() -> None:
    assert run_error("event.n[0]", {"n": 1.0}).startswith("cannot fetch 0 from float64")
    run_error("$env[1]", {})


# -- in ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ('"a" in [1, 2]', "cannot use string as type int in array"),
        ('1 in ["a", "b"]', "cannot use int as type string in array"),
        ("true in [1]", "cannot use bool as type int in array"),
        ("[1] in [1, 2]", "cannot use []interface {} as type int in array"),
        ('"a" in 1..3', "cannot use string as type int in array"),
        ('1 in split("a,b", ",")', "cannot use int as type string in array"),
        ("1 in 1", "invalid operation: in (mismatched types int and int)"),
        ("1 in true", "invalid operation: in (mismatched types int and bool)"),
        ('"a" in "abc"', "invalid operation: in (mismatched types string and string)"),
        ("event.x in 1", "invalid operation: in (mismatched types unknown and int)"),
        ("1 in {a: 1}", "cannot use int as type string in map key"),
        ("nil in {a: 1}", "cannot use nil as type string in map key"),
    ],
)
def test_membership_between_incompatible_literals_is_rejected(src: str, message: str) -> None:
    assert compile_error(src) == message


@pytest.mark.parametrize(
    ("src", "event", "expected"),
    [
        ("event.c in [1, 2]", {"c": 2.0}, True),
        ("1 in [1, 'a']", None, True),
        ("1.5 in [1, 2]", None, False),
        ("nil in [1, 2]", None, False),
        ("[1] in [[1]]", None, True),
        ('"a" in [event.s]', {"s": "a"}, True),
        ("event.x in event.y", {"x": 1.0, "y": [1.0]}, True),
        ('"a" in {a: 1}', None, True),
        ("1 in []", None, False),
        ("2 in map([1], # + 1)", None, True),
        ("event.x in ['EUR', 'USD']", {"x": "EUR"}, True),
    ],
)
def test_membership_still_accepted(src: str, event: Any, expected: Any) -> None:
    assert run(src, event) is expected


def test_membership_in_string_with_unknown_needle_fails_at_run_time() -> None:
    run_error("event.s in 'abc'", {"s": "a"})


# -- operators ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ('1 + "a"', "invalid operation: + (mismatched types int and string)"),
        ('"a" - 1', "invalid operation: - (mismatched types string and int)"),
        ("true > 1", "invalid operation: > (mismatched types bool and int)"),
        ("true > false", "invalid operation: > (mismatched types bool and bool)"),
        ('"a" < 1', "invalid operation: < (mismatched types string and int)"),
        ("nil + 1", "invalid operation: + (mismatched types nil and int)"),
        ("[1] * 2", "invalid operation: * (mismatched types []interface {} and int)"),
        ("1 % 1.5", "invalid operation: % (mismatched types int and float64)"),
        ('2 ** "a"', "invalid operation: ** (mismatched types int and string)"),
        ('-"a"', "invalid operation: - (mismatched type string)"),
        ("-true", "invalid operation: - (mismatched type bool)"),
        ("not 1", "invalid operation: not (mismatched type int)"),
        ('!"a"', "invalid operation: ! (mismatched type string)"),
        ("1 ? 2 : 3", "non-bool expression (type int) used as condition"),
        ('"a" ?: 1', "non-bool expression (type string) used as condition"),
        ("nil ? 1 : 2", "non-bool expression (type nil) used as condition"),
        ("1 && true", "invalid operation: && (mismatched types int and bool)"),
        ('true || "a"', "invalid operation: || (mismatched types bool and string)"),
        ("nil and true", "invalid operation: and (mismatched types nil and bool)"),
        ('[1, 2][event.i] + "a"', "invalid operation: + (mismatched types int and string)"),
        ('(nil ?? 1) + "a"', "invalid operation: + (mismatched types int and string)"),
        ('(event.c ? nil : 1) + "a"', "invalid operation: + (mismatched types int and string)"),
        ('len("a") + "b"', "invalid operation: + (mismatched types int and string)"),
        ('find([1], # > 0) + "a"', "invalid operation: + (mismatched types int and string)"),
        ('sum([1, 2]) + "a"', "invalid operation: + (mismatched types int and string)"),
        ('1 == "1"', "invalid operation: == (mismatched types int and string)"),
        ("1 % 0", "integer divide by zero"),
        ("-7 % (2 - 2)", "integer divide by zero"),
    ],
)
def test_operators_on_incompatible_literals_are_rejected(src: str, message: str) -> None:
    assert compile_error(src) == message


@pytest.mark.parametrize(
    ("src", "event", "expected"),
    [
        ("event.a > 1", {"a": 2.0}, True),
        ("-event.a", {"a": 2.0}, -2.0),
        ("not event.b", {"b": False}, True),
        ("event.b ? 1 : 2", {"b": True}, 1),
        ("event.b && true", {"b": True}, True),
        ("1 + 1.5", None, 2.5),
        ('"a" + "b"', None, "ab"),
        ("nil == 1", None, False),
        ("[1] == [1.0]", None, True),
    ],
)
def test_operators_still_accepted(src: str, event: Any, expected: Any) -> None:
    assert run(src, event) == expected


@pytest.mark.parametrize(
    ("src", "event"),
    [
        ('event.a + "a"', {"a": 1.0}),
        ("event.a % 2", {"a": 1.0}),
        ("event.s > 1", {"s": "x"}),
        ("event.n || event.b", {"n": 1.0, "b": True}),
        # Upstream's checker types these as unknown, so they fail only when run:
        ('first([1]) + "a"', None),  # first() of a []interface {} is interface {}
        ('{a: 1}.a + "x"', None),  # map literal values are interface {}
        ('(true ? 1 : "a") + "b"', None),  # branches of two types: unknown
        ('len("a") % 0', None),  # only literals are folded upstream
        ("get([1, 2], 5) + 1", None),  # an int to the checker, nil when run
    ],
)
def test_unknown_operand_types_fail_at_run_time(src: str, event: Any) -> None:
    run_error(src, event)


# -- computed map keys -------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "event", "kind"),
    [
        ("{(1): 2}", None, "int"),
        ("{(1.5): 2}", None, "float64"),
        ("{(true): 2}", None, "bool"),
        ("{(nil): 2}", None, "<nil>"),
        ("{([1]): 2}", None, "[]interface {}"),
        ("{({}): 2}", None, "map[string]interface {}"),
        ("{(event.n): 2}", {"n": 1.0}, "float64"),
        ("{(event.l): 2}", {"l": [1.0]}, "[]interface {}"),
        ("{(event.m): 2}", {"m": {}}, "map[string]interface {}"),
    ],
)
def test_computed_non_string_map_key_fails_at_run_time(src: str, event: Any, kind: str) -> None:
    assert run_error(src, event) == f"cannot use {kind} as map key"


@pytest.mark.parametrize(
    ("src", "event", "expected"),
    [
        ("{(event.s): 1}", {"s": "k"}, {"k": 1}),
        ('{("a" + "b"): 1}', None, {"ab": 1}),
        ("{(string(1)): 1}", None, {"1": 1}),
    ],
)
def test_computed_string_map_key(src: str, event: Any, expected: Any) -> None:
    assert run(src, event) == expected
