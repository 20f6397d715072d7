"""Var strings and the two float printers (EXPR.md 1, 1.1; BEHAVIOUR.md 9.4)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from triggers import expr

pytestmark = pytest.mark.unit


def var(src: str, event: Any = None) -> str:
    return expr.format_var(expr.compile(src).run({"event": event}))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # JSON form: plain for 1e-6 <= |x| < 1e21, no trailing .0
        (25000.0, "25000"),
        (2500000.0, "2500000"),
        (1200000.0, "1200000"),
        (1.5, "1.5"),
        (0.0, "0"),
        (3.14, "3.14"),
        (0.1 + 0.2, "0.30000000000000004"),
        (27500.000000000004, "27500.000000000004"),
        (12345678901234567000.0, "12345678901234567000"),
        (0.000001, "0.000001"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (1e-10, "1e-10"),
        (-2.5, "-2.5"),
        # other kinds
        (2, "2"),
        ("stripe", "stripe"),
        ("", ""),
        (True, "true"),
        (False, "false"),
        (None, "<nil>"),
        (["a", "b", 1.5, None], "[a b 1.5 <nil>]"),
        ([2500000.0], "[2.5e+06]"),
        ({"currency": "EUR", "value": 12.0}, "map[currency:EUR value:12]"),
        ({"b": 1.0, "a": {"c": [1.0]}}, "map[a:map[c:[1]] b:1]"),
        ({"a": 2500000.0}, "map[a:2.5e+06]"),
    ],
)
def test_format_var(value: Any, text: str) -> None:
    assert expr.format_var(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (25000.0, "25000"),
        (2500000.0, "2.5e+06"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (999999.0, "999999"),
        (1e-5, "1e-05"),
        (0.0001, "0.0001"),
        (1e21, "1e+21"),
        (1.2345678901234567e19, "1.2345678901234567e+19"),
        (1.0, "1"),
        (-1.5e-7, "-1.5e-07"),
        (1e100, "1e+100"),
    ],
)
def test_percent_v_float_form(value: float, text: str) -> None:
    assert expr.compile("string(event)").run({"event": value}) == text
    assert expr.format_var([value]) == f"[{text}]"


def test_spec_examples_for_a_json_amount() -> None:
    event = expr.decode_event(b'{"amount": 2500000}')
    assert var("event.amount", event) == "2500000"
    assert var("string(event.amount)", event) == "2.5e+06"
    assert var("[event.amount]", event) == "[2.5e+06]"
    assert var('{"a": event.amount}', event) == "map[a:2.5e+06]"


def test_upstream_pinned_var_cases() -> None:
    assert var("event.metadata.psp", {"metadata": {"psp": "stripe"}}) == "stripe"
    assert var("event.amount", expr.decode_event('{"amount": 1200000}')) == "1200000"
    assert var("event.ok", {"ok": True}) == "true"
    assert var('event.foo + "-YYY"', {"foo": "XXX"}) == "XXX-YYY"
    assert var("event.missing", {}) == "<nil>"
    assert var("len([1, 2])") == "2"


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_unencodable_float_var_fails(value: float) -> None:
    with pytest.raises(expr.EvalError):
        expr.format_var(value)


def test_special_floats_in_percent_v() -> None:
    assert expr.format_var([math.inf, -math.inf, math.nan]) == "[+Inf -Inf NaN]"


def test_decode_event_numbers_are_floats() -> None:
    value = expr.decode_event(b'{"a": 42, "b": [1, {"c": 2}], "d": 1.5, "e": true, "f": null}')
    assert value == {"a": 42.0, "b": [1.0, {"c": 2.0}], "d": 1.5, "e": True, "f": None}
    assert type(value["a"]) is float
    assert type(value["b"][1]["c"]) is float
    assert value["e"] is True
    assert expr.compile("type(event.a)").run({"event": value}) == "float"


def test_decode_event_big_integers_lose_precision_like_go() -> None:
    value = expr.decode_event('{"n": 12345678901234567890}')
    assert value["n"] == 1.2345678901234567e19
    big = expr.decode_event(b'{"n": 123456789012345678901234567890}')
    assert big["n"] == float(123456789012345678901234567890)


def test_decode_event_rejects_invalid_json() -> None:
    with pytest.raises(ValueError):
        expr.decode_event(b"{not json")
