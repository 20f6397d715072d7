"""Builtins (EXPR.md sections 7 and 8)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from triggers import expr

pytestmark = pytest.mark.unit


def run(src: str, event: Any = None) -> Any:
    return expr.compile(src).run({"event": event})


def typed(a: Any) -> Any:
    """Value with its Python type, so 2 and 2.0 and True differ."""
    if isinstance(a, list):
        return [typed(x) for x in a]
    if isinstance(a, dict):
        return {k: typed(v) for k, v in a.items()}
    return (type(a).__name__, a)


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ('len("héllo")', 5),
        ("len([1, 2])", 2),
        ("len({a: 1, b: 2})", 2),
        ("abs(-3)", 3),
        ("abs(-2.5)", 2.5),
        ("ceil(1.2)", 2.0),
        ("ceil(2)", 2.0),
        ("floor(-1.2)", -2.0),
        ("round(2.5)", 3.0),
        ("round(-2.5)", -3.0),
        ("round(2.4)", 2.0),
        ("int(2.9)", 2),
        ("int(-2.9)", -2),
        ('int("5")', 5),
        ('int("+5")', 5),
        ('int("-12")', -12),
        ('float("1e3")', 1000.0),
        ('float("5.5")', 5.5),
        ("float(2)", 2.0),
        ("string(25000.0)", "25000"),
        ("string(2500000.0)", "2.5e+06"),
        ("string(nil)", "<nil>"),
        ('string([1, "a"])', "[1 a]"),
        ("string({a: 1})", "map[a:1]"),
        ("string(1.0)", "1"),
        ("string(true)", "true"),
        ("type(nil)", "nil"),
        ("type(true)", "bool"),
        ("type(1)", "int"),
        ("type(1.5)", "float"),
        ('type("")', "string"),
        ("type([])", "array"),
        ("type({})", "map"),
        ('upper("straße")', "STRAßE"),
        ('lower("ÀB")', "àb"),
        ('trim("  a b \\n")', "a b"),
        ('trim("xxaxx", "x")', "a"),
        ('trimPrefix("foobar", "foo")', "bar"),
        ('trimSuffix("foobar", "bar")', "foo"),
        ('split("a,b,c", ",")', ["a", "b", "c"]),
        ('split("", ",")', [""]),
        ('split("abc", "")', ["a", "b", "c"]),
        ('split("a,b,c", ",", 2)', ["a", "b,c"]),
        ('splitAfter("a,b,c", ",")', ["a,", "b,", "c"]),
        ('replace("aaa", "a", "b")', "bbb"),
        ('replace("aaa", "a", "b", 2)', "bba"),
        ('repeat("ab", 3)', "ababab"),
        ('indexOf("héllo", "l")', 3),  # byte offset
        ('indexOf("abc", "z")', -1),
        ('lastIndexOf("abcabc", "b")', 4),
        ('hasPrefix("abc", "ab")', True),
        ('hasSuffix("abc", "bc")', True),
        ('join(["a", "b"], "-")', "a-b"),
        ('join(["a", "b"])', "ab"),
        ("all([], # > 1)", True),
        ("any([], # > 1)", False),
        ("none([], # > 1)", True),
        ("one([], # > 1)", False),
        ("all([2, 3], # > 1)", True),
        ("any([1, 3], # > 2)", True),
        ("none([1, 3], # > 2)", False),
        ("one([1, 3], # > 2)", True),
        ("one([3, 3], # > 2)", False),
        ("filter([1, 2, 3], # > 1)", [2, 3]),
        ("filter([1, 2, 3], {# > 1})", [2, 3]),
        ("map([1, 2], # * 2)", [2, 4]),
        ("map([1, 2], #index)", [0, 1]),
        ("map([{a: 1}, {a: 2}], .a)", [1, 2]),
        ("count([1, 2, 3], # > 1)", 2),
        ("count([true, false, true])", 2),
        ("find([1, 2, 3], # > 1)", 2),
        ("find([1, 2, 3], # > 5)", None),
        ("findIndex([1, 2, 3], # > 1)", 1),
        ("findIndex([1, 2, 3], # > 5)", None),
        ("findLast([1, 2, 3], # > 1)", 3),
        ("findLastIndex([1, 2, 3], # > 1)", 2),
        ("sum([1, 2, 3])", 6),
        ("sum([1, 2.5])", 3.5),
        ("sum([])", 0),
        ("sum([1, 2], # * 10)", 30),
        ("mean([1, 2])", 1.5),
        ("mean([])", 0.0),
        ("median([3, 1, 2])", 2.0),
        ("median([1, 2, 3, 4])", 2.5),
        ("max(1, 2.5)", 2.5),
        ("max([1, 5], 3)", 5),
        ("min(3, 1)", 1),
        ("min([4, 2.5])", 2.5),
        ("first([1, 2])", 1),
        ("first([])", None),
        ("last([1, 2])", 2),
        ("take([1, 2, 3], 2)", [1, 2]),
        ("take([1, 2], 5)", [1, 2]),
        ("reverse([1, 2, 3])", [3, 2, 1]),
        ("uniq([1, 1.0, 2, 1])", [1, 2]),
        ("concat([1], [2, 3])", [1, 2, 3]),
        ("flatten([1, [2, [3]]])", [1, 2, 3]),
        ("sort([3, 1, 2])", [1, 2, 3]),
        ('sort([3, 1, 2], "desc")', [3, 2, 1]),
        ('sort(["b", "a"])', ["a", "b"]),
        ("sortBy([{a: 2}, {a: 1}], .a)", [{"a": 1}, {"a": 2}]),
        ('sortBy([{a: 2}, {a: 1}], .a, "desc")', [{"a": 2}, {"a": 1}]),
        ("sort(keys({b: 1, a: 2}))", ["a", "b"]),
        ("sort(values({b: 1, a: 2}))", [1, 2]),
        ("fromPairs([['a', 1]])", {"a": 1}),
        ("toPairs({a: 1})", [["a", 1]]),
        ("groupBy([1, 2, 3], # > 1 ? 'big' : 'small')", {"small": [1], "big": [2, 3]}),
        ("reduce([1, 2, 3], #acc + #)", 6),
        ("reduce([1, 2, 3], #acc + #, 10)", 16),
        ("toJSON(25000.0)", "25000"),
        ('toJSON({b: 1, a: "<&>"})', '{\n  "a": "\\u003c\\u0026\\u003e",\n  "b": 1\n}'),
        ("toJSON([])", "[]"),
        ("toJSON([1, [2]])", "[\n  1,\n  [\n    2\n  ]\n]"),
        ('fromJSON("{\\"a\\": 1}")', {"a": 1.0}),
        ('fromJSON("[1, 2]")', [1.0, 2.0]),
        ('toBase64("hi")', "aGk="),
        ('fromBase64("aGk=")', "hi"),
        ("bitand(12, 10)", 8),
        ("bitor(12, 10)", 14),
        ("bitxor(12, 10)", 6),
        ("bitnand(12, 10)", 4),
        ("bitnot(0)", -1),
        ("bitshl(1, 3)", 8),
        ("bitshr(-8, 1)", -4),
        ("bitushr(-1, 60)", 15),
        ("[1, 2] | map(# + 1) | filter(# > 2)", [3]),
    ],
)
def test_builtin(src: str, expected: Any) -> None:
    assert typed(run(src)) == typed(expected)


@pytest.mark.parametrize(
    ("src", "event"),
    [
        ("len(nil)", None),
        ("len(event)", 1.0),
        ("upper(5)", None),
        ("upper(event)", 5.0),
        ('int("5.5")', None),
        ('int(" 5")', None),
        ('int("0x10")', None),
        ('float("abc")', None),
        ('join([1, "a"])', None),
        ("keys(nil)", None),
        ("all(event, # > 1)", None),
        ("all(event, # > 1)", {"a": 1.0}),
        ("filter(event, #)", [1.0]),
        ("sort(event)", [1.0, "a"]),
        ("sort(event)", [None, 1.0]),
        ("sortBy(event, #)", [1.0, "a"]),
        ("fromJSON('{')", None),
        ("toJSON(event)", math.inf),
        ("repeat('a', -1)", None),
    ],
)
def test_builtin_runtime_errors(src: str, event: Any) -> None:
    prog = expr.compile(src)
    with pytest.raises(expr.EvalError):
        prog.run({"event": event})


@pytest.mark.parametrize(
    "src",
    [
        "len()",
        "len(1)",
        "len(1, 2)",
        'abs("x")',
        'max(1, "2")',
        'upper("a", "b")',
        "split('a')",
        "filter([1])",
        "all()",
        "keys([1])",
        "round('x')",
    ],
)
def test_builtin_compile_errors(src: str) -> None:
    with pytest.raises(expr.CompileError):
        expr.compile(src)


def test_predicate_on_json_numbers_must_be_bool() -> None:
    prog = expr.compile("filter(event, #)")
    with pytest.raises(expr.EvalError):
        prog.run({"event": [1.0]})


def test_no_bool_builtin() -> None:
    prog = expr.compile("bool(1)")
    with pytest.raises(expr.EvalError):
        prog.run({})


def test_reduce_of_empty_list_without_initial_value_fails() -> None:
    prog = expr.compile("reduce(event, #acc + #)")
    with pytest.raises(expr.EvalError):
        prog.run({"event": []})
    assert expr.compile("reduce(event, #acc + #, 7)").run({"event": []}) == 7
