"""Error text shape and positions (EXPR.md 10, BEHAVIOUR.md 3.19)."""

from __future__ import annotations

import pytest

from triggers import expr

pytestmark = pytest.mark.unit


def test_upstream_example_nil_plus_nil() -> None:
    prog = expr.compile("a + b")
    with pytest.raises(expr.EvalError) as info:
        prog.run({})
    err = info.value
    assert str(err) == "invalid operation: <nil> + <nil> (1:3)\n | a + b\n | ..^"
    assert err.message == "invalid operation: <nil> + <nil>"
    assert (err.line, err.column) == (1, 3)


def test_string_plus_float_message() -> None:
    prog = expr.compile("event.s + event.n")
    with pytest.raises(expr.EvalError) as info:
        prog.run({"event": {"s": "a", "n": 1.0}})
    assert info.value.message == "invalid operation: string + float64"


def test_compile_error_position_on_second_line() -> None:
    with pytest.raises(expr.CompileError) as info:
        expr.compile('event.a == 1 &&\n  1 + "x"')
    err = info.value
    assert (err.line, err.column) == (2, 5)
    assert str(err).endswith('\n |   1 + "x"\n | ....^')


def test_runtime_error_position_on_second_line() -> None:
    prog = expr.compile("true &&\nevent.missing.deep")
    with pytest.raises(expr.EvalError) as info:
        prog.run({"event": {}})
    assert (info.value.line, info.value.column) == (2, 15)
    assert str(info.value).startswith(
        "cannot fetch deep from <nil> (2:15)\n | event.missing.deep\n"
    )


def test_tabs_are_shown_as_spaces_in_snippet() -> None:
    with pytest.raises(expr.CompileError) as info:
        expr.compile("\t1 +")
    assert "\t" not in str(info.value)


def test_caret_dropped_after_multibyte_characters() -> None:
    prog = expr.compile('"é" + event.n')
    with pytest.raises(expr.EvalError) as info:
        prog.run({"event": {"n": 1.0}})
    text = str(info.value)
    assert text.endswith('\n | "é" + event.n')
    assert "^" not in text


def test_end_of_input_error() -> None:
    with pytest.raises(expr.CompileError) as info:
        expr.compile("1 +")
    assert "unexpected end of expression" in info.value.message
    assert info.value.line == 1


def test_errors_are_exceptions_with_message() -> None:
    err = expr.EvalError("plain")
    assert str(err) == "plain"
    assert isinstance(err, expr.ExprError)


def test_program_is_reusable_after_errors() -> None:
    prog = expr.compile("event.a.b")
    with pytest.raises(expr.EvalError):
        prog.run({"event": {}})
    assert prog.run({"event": {"a": {"b": 1.0}}}) == 1.0


def test_non_string_source_is_a_compile_error() -> None:
    with pytest.raises(expr.CompileError):
        expr.compile(42)  # type: ignore[arg-type]
