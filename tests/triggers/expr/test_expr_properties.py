"""Property tests: integer arithmetic, comparisons, float printing round-trips."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triggers import expr

pytestmark = pytest.mark.unit

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FINITE = st.floats(allow_nan=False, allow_infinity=False)

ADD = expr.compile("event.a + event.b")
SUB = expr.compile("event.a - event.b")
MUL = expr.compile("event.a * event.b")
MOD = expr.compile("event.a % event.b")
DIV = expr.compile("event.a / event.b")
LT = expr.compile("event.a < event.b")
LE = expr.compile("event.a <= event.b")
EQ = expr.compile("event.a == event.b")
STRING = expr.compile("string(event.a)")


def wrap64(n: int) -> int:
    """Reference two's-complement wrap, written independently of the port."""
    return ((n + 2**63) % 2**64) - 2**63


def go_rem(a: int, b: int) -> int:
    """Truncated remainder: the result takes the dividend's sign."""
    q = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        q = -q
    return a - q * b


def env(a: Any, b: Any = None) -> dict[str, Any]:
    return {"event": {"a": a, "b": b}}


@given(INT64, INT64)
def test_int_add_sub_mul_wrap_like_int64(a: int, b: int) -> None:
    assert ADD.run(env(a, b)) == wrap64(a + b)
    assert SUB.run(env(a, b)) == wrap64(a - b)
    assert MUL.run(env(a, b)) == wrap64(a * b)
    assert type(ADD.run(env(a, b))) is int


@given(INT64, INT64.filter(lambda b: b != 0))
def test_int_remainder_has_dividend_sign(a: int, b: int) -> None:
    r = MOD.run(env(a, b))
    assert r == wrap64(go_rem(a, b))
    assert r == 0 or (r < 0) == (a < 0)


@given(st.integers(-(2**31), 2**31), st.integers(-(2**31), 2**31).filter(lambda b: b != 0))
def test_int_division_is_always_float(a: int, b: int) -> None:
    result = DIV.run(env(a, b))
    assert type(result) is float
    assert result == a / b


@given(st.lists(st.one_of(INT64, FINITE), min_size=3, max_size=3))
def test_ordering_is_transitive_and_consistent(xs: list[Any]) -> None:
    a, b, c = xs
    if LT.run(env(a, b)) and LT.run(env(b, c)):
        assert LT.run(env(a, c))
    assert LE.run(env(a, b)) == (LT.run(env(a, b)) or EQ.run(env(a, b)))


@given(INT64)
def test_int_equals_same_valued_float(a: int) -> None:
    assert EQ.run(env(a, float(a))) is True


@given(FINITE)
def test_json_float_form_round_trips(x: float) -> None:
    text = expr.format_var(x)
    assert float(text) == x
    assert not text.endswith(".0")
    if x != 0 and (abs(x) < 1e-6 or abs(x) >= 1e21):
        assert "e" in text
    else:
        assert "e" not in text


@given(FINITE)
def test_percent_v_float_form_round_trips(x: float) -> None:
    text = STRING.run(env(x))
    assert float(text) == x
    exp_form = x != 0 and (abs(x) < 1e-4 or abs(x) >= 1e6)
    assert ("e" in text) == exp_form
    if exp_form:
        assert len(text.rsplit("e", 1)[1]) >= 3  # sign and two digits at least


@given(FINITE)
def test_both_forms_use_shortest_digits(x: float) -> None:
    digits = repr(abs(x)).split("e")[0].replace(".", "").strip("0")
    for text in (expr.format_var(x), STRING.run(env(x))):
        mantissa = text.lstrip("-").split("e")[0].replace(".", "").strip("0")
        assert mantissa == digits or (x == 0 and mantissa == "")


@given(st.text())
def test_string_literals_round_trip_through_escapes(s: str) -> None:
    quoted = "".join(f"\\u{{{ord(c):x}}}" if not c.isalnum() else c for c in s)
    surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in s)
    if surrogate:
        with pytest.raises(expr.CompileError):
            expr.compile(f'"{quoted}"')
    else:
        assert expr.compile(f'"{quoted}"').run({}) == s


@given(st.lists(INT64, max_size=8))
def test_sum_of_ints_stays_int_and_wraps(xs: list[int]) -> None:
    total = expr.compile("sum(event.a)").run(env(xs))
    expected = 0
    for x in xs:
        expected = wrap64(expected + x)
    assert total == expected
    assert type(total) is int


@given(st.lists(FINITE, min_size=1, max_size=8))
def test_max_min_pick_the_extremes(xs: list[float]) -> None:
    assert expr.compile("max(event.a)").run(env(xs)) == max(xs)
    assert expr.compile("min(event.a)").run(env(xs)) == min(xs)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_round_is_half_away_from_zero(x: float) -> None:
    r = expr.compile("round(event.a)").run(env(x))
    assert abs(r - x) <= 0.5
    if abs(r - x) == 0.5:
        assert abs(r) > abs(x)
    assert math.copysign(1.0, r) == math.copysign(1.0, x) or r == 0


# -- static checks between literal types ------------------------------------
# A reference model of upstream's checker for literals, written from
# EXPR.md 5.1-5.5: a pair is rejected at compile time exactly when the model
# says so.  An event field has no static type: beside it, only a literal
# that could never suit the operator is rejected (`event.x + true`).

NUMBERS = {"int", "float"}
LITERALS: dict[str, st.SearchStrategy[str]] = {
    "int": st.integers(0, 10**6).map(str),
    "float": st.floats(0, 1e6, allow_nan=False).map(repr),
    "string": st.text(alphabet="ab z", max_size=4).map(lambda s: f'"{s}"'),
    "bool": st.sampled_from(["true", "false"]),
    "nil": st.just("nil"),
    "list": st.sampled_from(["[]", "[1]", '["a", 2]']),
    "map": st.sampled_from(["{}", "{a: 1}"]),
}
KINDS = st.sampled_from(sorted(LITERALS))


@st.composite
def literal(draw: st.DrawFn, kind: str | None = None) -> tuple[str, str]:
    k = kind or draw(KINDS)
    return k, draw(LITERALS[k])


def go_comparable(a: str, b: str) -> bool:
    return "nil" in (a, b) or {a, b} <= NUMBERS or a == b


# Operand kinds each operator takes (EXPR.md 5.1, 5.3, 5.4).
OPERANDS = {
    "+": [NUMBERS, {"string"}],
    "-": [NUMBERS],
    "*": [NUMBERS],
    "/": [NUMBERS],
    "<": [NUMBERS, {"string"}],
    "&&": [{"bool"}],
}


def go_accepts(op: str, a: str | None, b: str | None) -> bool:
    """``a op b``; None is an operand of unknown type."""
    if op == "==":
        return a is None or b is None or go_comparable(a, b)
    known = {k for k in (a, b) if k is not None}
    return any(known <= group for group in OPERANDS[op])


def compiles(src: str) -> bool:
    try:
        expr.compile(src)
    except expr.CompileError:
        return False
    return True


@given(st.sampled_from(["+", "-", "*", "/", "<", "==", "&&"]), literal(), literal())
def test_binary_operator_between_literals_follows_go_checker(
    op: str, left: tuple[str, str], right: tuple[str, str]
) -> None:
    (lk, ls), (rk, rs) = left, right
    assert compiles(f"({ls}) {op} ({rs})") == go_accepts(op, lk, rk)
    assert compiles(f"event.x {op} ({rs})") == go_accepts(op, None, rk)
    assert compiles(f"({ls}) {op} event.x") == go_accepts(op, lk, None)
    assert compiles(f"event.x {op} event.y")


@given(literal(), KINDS.flatmap(lambda k: st.lists(literal(k), min_size=1, max_size=3)))
def test_in_a_uniform_literal_array_needs_a_comparable_needle(
    needle: tuple[str, str], items: list[tuple[str, str]]
) -> None:
    nk, ns = needle
    array = "[" + ", ".join(s for _, s in items) + "]"
    assert compiles(f"({ns}) in {array}") == go_comparable(nk, items[0][0])
    assert compiles(f"event.x in {array}")
    assert compiles(f"({ns}) in [event.x, {array}[0]]")  # mixed kinds: elements unknown


@given(KINDS.flatmap(lambda k: st.lists(literal(k), min_size=1, max_size=3)))
def test_predicate_over_uniform_literal_array_must_be_boolean(items: list[tuple[str, str]]) -> None:
    array = "[" + ", ".join(s for _, s in items) + "]"
    for name in ("all", "any", "filter", "count", "find", "findIndex"):
        assert compiles(f"{name}({array}, {{#}})") == (items[0][0] == "bool")
        assert compiles(f"{name}(event.xs, {{#}})")
    assert compiles(f"map({array}, {{#}})") == (items[0][0] != "nil")
