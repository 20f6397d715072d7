"""Operators, precedence and value semantics (EXPR.md sections 3 to 5, 7, 9).

Expected values come from the spec text, not from running the port.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from triggers import expr

pytestmark = pytest.mark.unit


def run(src: str, event: Any = None, **env: Any) -> Any:
    return expr.compile(src).run({"event": event, **env})


def run_error(src: str, event: Any = None) -> expr.EvalError:
    prog = expr.compile(src)
    with pytest.raises(expr.EvalError) as info:
        prog.run({"event": event})
    return info.value


def compile_error(src: str) -> expr.CompileError:
    with pytest.raises(expr.CompileError) as info:
        expr.compile(src)
    return info.value


def same(a: Any, b: Any) -> bool:
    """Equal value *and* Python type (int vs float vs bool matter here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        # section 3: literals
        ("42", 42),
        ("1_000_000", 1000000),
        ("0x2A", 42),
        ("0X2a", 42),
        ("0o52", 42),
        ("0b101010", 42),
        ("02", 2),
        ("0.5", 0.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("1e3", 1000.0),
        ("1.2e-4", 0.00012),
        ("1_000.5", 1000.5),
        ('"a\\nb"', "a\nb"),
        ("'it\\'s'", "it's"),
        ('"\\x41\\u00e9\\u{1F600}\\U0001F600\\101"', "Aé\U0001f600\U0001f600A"),
        ('"\\a\\b\\f\\v\\t\\r\\\\\\"\\`\\?"', '\a\b\f\v\t\r\\"`?'),
        ("`raw\\n`", "raw\\n"),
        ("`two\nlines`", "two\nlines"),
        ("true", True),
        ("false", False),
        ("nil", None),
        ('[1, "a", nil]', [1, "a", None]),
        ("[1, 2,]", [1, 2]),
        (
            '{a: 1, "b c": 2, \'d\': 3, 4: 5, ("k" + "x"): 6}',
            {"a": 1, "b c": 2, "d": 3, "4": 5, "kx": 6},
        ),
        ("{a: 1,}", {"a": 1}),
        ("{a: 1, a: 2}", {"a": 1}),  # section 9: first duplicate wins
        ("1..3", [1, 2, 3]),
        ("3..1", []),
        ("// comment\n1 /* inline */ + 1", 2),
        # 5.1 arithmetic
        ("1 + 2", 3),
        ("1 + 2.0", 3.0),
        ("9223372036854775807 + 1", -9223372036854775808),
        ("-9223372036854775807 - 2", 9223372036854775807),
        ("4294967296 * 4294967296", 0),
        ("7 / 2", 3.5),
        ("6 / 3", 2.0),
        ("1 / 2 == 0", False),
        ("1 / 0 > 1e308", True),
        ("-7 % 3", -1),
        ("7 % -3", 1),
        ("7 % 3", 1),
        ("2 ** 8", 256.0),
        ("2 ^ 8", 256.0),
        ("2 ** -1", 0.5),
        ("2 ** 3 ** 2", 512.0),
        ("-2 ** 2", -4.0),
        ("-(3)", -3),
        ("+3", 3),
        ('"a" + "b"', "ab"),
        # 5.2 equality
        ("1 == 1.0", True),
        ("nil == nil", True),
        ('"" == nil', False),
        ("0 == nil", False),
        ("[1, 2] == [1.0, 2.0]", True),
        ("[1, 2] == [1, 2, 3]", False),
        ("{x: 1.0} == {x: 1}", False),
        ("{x: 1} == {x: 1}", True),
        ("true != false", True),
        # 5.3 ordering
        ('"B" < "a"', True),
        ("1 < 1.5", True),
        ("2 >= 2.0", True),
        ('"abc" <= "abd"', True),
        # chained comparisons
        ("1 < 2 < 3", True),
        ("1 < 3 < 2", False),
        ("1 < 2 < 3 == true", True),
        ("3 > 2 >= 2", True),
        # 5.4 logic
        ("true && false", False),
        ("true and true", True),
        ("false || true", True),
        ("false or false", False),
        ("!true", False),
        ("not false", True),
        # 5.5 membership and strings
        ("2 in [1, 2, 3]", True),
        ("2.0 in [1, 2]", True),
        ("4 not in [1, 2]", True),
        ('"a" in {a: nil}', True),
        ('"b" in {a: 1}', False),
        ("2 in 1..3", True),
        ('"foobar" contains "oba"', True),
        ('"foobar" startsWith "foo"', True),
        ('"foobar" endsWith "bar"', True),
        ('"foobar" not contains "x"', True),
        ('"foobar" not startsWith "bar"', True),
        ('"foobar" not endsWith "foo"', True),
        ('"foobar" matches "o+b"', True),
        ('"FOO" matches "(?i)foo"', True),
        ('"FOO" matches "foo"', False),
        ('"foobar" not matches "^bar"', True),
        ('"line\\n" matches "line$"', False),  # RE2: `$` is end of text only
        # precedence oddities (section 4)
        ('"a" | upper() + "B" | lower()', "ab"),
        ("[1] | len() > 0", True),
        ("true || false ? 1 : 2", 1),
        ("false ? 1 : true ? 2 : 3", 2),
        ("not true in [true, false]", True),
        ("not (1 == 2)", True),
        ("!false == true", True),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 2 - 3", 5),
        ("2 * 3 % 4", 2),
        ("1 + 2 .. 2 + 2", [3, 4]),
        ("nil ?? 3", 3),
        ("false ?? 3", False),
        ("0 ?? 3", 0),
        ('"" ?? 3', ""),
        ("1 + nil ?? 2", 3),
        ("-nil ?? 3", -3),
        ("5 < nil ?? 0", False),
        # section 7
        ("true ? 1 : 2", 1),
        ("false ? 1 : 2", 2),
        ("true ?: 5", True),
        ("false ?: 5", 5),
        ("let x = 2; x * 3", 6),
        ("let x = 2; let y = x + 1; x * y", 6),
        ("1; 2; 3", 3),
        ("1; 2;", 2),
        ("if 1 > 2 { 1 } else { 2 }", 2),
        ("if 1 > 2 { 1 } else if 2 > 1 { 3 } else { 4 }", 3),
        ("(1; 2)", 2),
    ],
)
def test_value(src: str, expected: Any) -> None:
    assert same(run(src), expected), (src, run(src), expected)


def test_nan_is_not_equal_to_itself() -> None:
    assert run("0.0 / 0.0 == 0.0 / 0.0") is False


def test_float_division_by_zero_gives_infinities() -> None:
    assert run("1.0 / 0") == math.inf
    assert run("-1 / 0") == -math.inf
    assert math.isnan(run("0 / 0"))


@pytest.mark.parametrize(
    ("src", "event", "expected"),
    [
        # JSON numbers are floats
        ("event.n + 1", {"n": 41.0}, 42.0),
        ("event.n == 25000", {"n": 25000.0}, True),
        ('event.n == "25000"', {"n": 25000.0}, False),
        ("int(event.n) % 100", {"n": 1234.0}, 34),
        ("event.n in [1, 2]", {"n": 2.0}, True),
        ("event.a < event.b", {"a": 1.0, "b": 2.0}, True),
        ("1 < event.a < 3", {"a": 2.0}, True),
        ("event.a != nil && event.a.b == 1", {"a": None}, False),
        ("event.a != nil && event.a.b == 1", {"a": {"b": 1.0}}, True),
        ("(event.flag ?? false) || true", {}, True),
        ("event.x ?? event.y ?? 3", {}, 3),
        # section 9 artefacts
        ("{x: event.a} == {x: 1}", {"a": 1.0}, False),
        ('event.x in ["", "USD"]', {}, True),
        ('event.x in ["EUR", "USD"]', {"x": "USD"}, True),
        ("event.x && false", {"x": "not a bool"}, False),
        ("event.x || true", {"x": 1.0}, True),
        ("event.x && true", {"x": "s"}, "s"),
        ("true && event.x", {"x": 5.0}, 5.0),
        ("event.x ? 1 : 2", {"x": True}, 1),
        ("event.s matches event.p", {"s": "abc", "p": "b"}, True),
        ("event.s contains event.t", {"s": "abc"}, False),
        ("event.s startsWith event.t", {"t": "a"}, False),
        ("event.s matches event.t", {"s": "a"}, False),
        ("event.n .. 3", {"n": 1.9}, [1, 2, 3]),
        ("foo == 1", {}, False),
        ("1 in event.missing", {}, False),
        ("'name' in $env", {}, False),
        ('$env["event"].a', {"a": "x"}, "x"),
    ],
)
def test_value_with_event(src: str, event: Any, expected: Any) -> None:
    assert same(run(src, event), expected), (src, run(src, event), expected)


def test_env_undefined_identifier_and_env_map() -> None:
    assert run("'other' in $env", None, other=1) is True
    assert run("undefinedName") is None


@pytest.mark.parametrize(
    ("src", "event"),
    [
        ("event.amount + 'x'", {"amount": 1.0}),
        ("event.amount % 100", {"amount": 100.0}),
        ("5 % event.n", {"n": 0.0}),
        ("event.a % event.b", {"a": 1, "b": 0}),  # integer % 0 at run time
        ("a + b", {}),
        ("event.x > 1", {}),
        ('event.amount > "1000"', {"amount": 1.0}),
        ("event.l < event.l", {"l": []}),
        ("event.flag || event.y", {}),
        ("!event.x", {}),
        ("event.x ? 1 : 2", {}),
        ("event.x ? 1 : 2", {"x": 1.0}),
        ("event.x ?: 2", {"x": "s"}),
        ("-event.s", {"s": "x"}),
        ("event.tags contains 'vip'", {"tags": ["vip"]}),
        ("event.n in 'string'", {"n": "s"}),
        ("event.n in {a: 1}", {"n": 1.0}),
        ("event.n in ['EUR', 'USD']", {"n": 1.0}),
        ("event.l + event.l", {"l": [1.0]}),
        ("event.m + event.m", {"m": {}}),
        ("nosuchfunc(1)", {}),
        ("event.s * 3", {"s": "a"}),
        ("event.a .. 2", {"a": "x"}),
    ],
)
def test_runtime_errors(src: str, event: Any) -> None:
    run_error(src, event)


@pytest.mark.parametrize(
    "src",
    [
        '1 + "x"',
        '"x" - 1',
        "nil + 1",
        "[1] + [2]",
        "{} + {}",
        '"a" * 3',
        "1.5 % 2",
        "5 % 1.0",
        "1 % 0",
        "-'x'",
        "!1",
        "not 'x'",
        "not 1 == 2",
        '1 == "1"',
        "'1' == 1",
        "true < false",
        '1 < "x"',
        "1 and false",
        "true || 'x'",
        "1 ? 2 : 3",
        "'s' ?: 1",
        '"a" in "abc"',
        "1 in {a: 1}",
        '1 contains "a"',
        '"a" startsWith 1',
        '"a" matches "("',
        "event.x matches '['",
        "1.5..3",
        "1..2.5",
        '"abc"[0]',
        "[1, 2]['a']",
        "{a: 1}[0]",
        "a ?? 0 > 5",
        "a ?? b || c",
        "a = 1",
        "1 === 1",
        "",
        "   ",
        "// only a comment",
        "1abc",
        "0b102",
        '"\\q"',
        '"unterminated',
        '"line\nbreak"',
        "/* open",
        "9223372036854775808",
        "#",
        ".a",
        "map([1], #unknown)",
        "let len = 1; len",
        "let x = 1; let x = 2; x",
        "(1",
        "[1, 2",
        "1 +",
        "@",
        "filter([1], 1)",
        "filter([1], {1 + 1})",
    ],
)
def test_compile_errors(src: str) -> None:
    compile_error(src)


def test_error_classes_share_a_root() -> None:
    assert issubclass(expr.CompileError, expr.ExprError)
    assert issubclass(expr.EvalError, expr.ExprError)
    assert not issubclass(expr.EvalError, expr.CompileError)


def test_unknown_function_compiles_and_fails_at_run_time() -> None:
    err = run_error("nosuch(1)")
    assert "cannot call nil" in err.message


def test_nested_predicates_rebind_pointer_and_let_captures_outer() -> None:
    posts = [
        {"author": "a", "comments": [{"author": "b"}, {"author": "a"}]},
        {"author": "c", "comments": [{"author": "b"}]},
    ]
    src = "filter(event, {let p = #; any(.comments, .author == p.author)})"
    assert run(src, posts) == [posts[0]]


def test_short_circuit_skips_right_side() -> None:
    assert run("false && event.missing.deep", {}) is False
    assert run("true || event.missing.deep", {}) is True
    assert run("true ? 1 : event.missing.deep", {}) == 1


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ('"ab1" matches "^[[:alpha:]]+[[:digit:]]$"', True),
        ('"a\\nb" matches "(?m)a$"', True),
        ('"a\\nb" matches "a$"', False),
        ('"x.b" matches "\\\\Q.b\\\\E\\\\z"', True),
        ('"xab" matches "\\\\Q.b\\\\E"', False),
        ('"]" matches "[]]"', True),
        ('"abc" matches "b"', True),  # unanchored
    ],
)
def test_re2_semantics(src: str, expected: bool) -> None:
    assert run(src) is expected


@pytest.mark.parametrize("pattern", ["(a)\\\\1", "a(?=b)", "(?<!a)b", "\\\\C", "[[:nope:]]", "("])
def test_patterns_re2_rejects_are_compile_errors(pattern: str) -> None:
    compile_error(f'event.s matches "{pattern}"')


def test_dynamic_invalid_pattern_is_runtime_error() -> None:
    err = run_error("event.s matches event.p", {"s": "a", "p": "("})
    assert "error parsing regexp" in err.message


def test_optional_member_on_nil_literal() -> None:
    # Upstream's checker rejects a field of a nil literal before `?.` applies;
    # a nil read from data is what `?.` skips.
    compile_error("nil?.a")
    compile_error("nil.a")
    assert run("event.missing?.a", {}) is None
