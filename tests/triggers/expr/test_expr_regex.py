"""`matches` runs on RE2, Go regexp's engine (EXPR.md 5.5): Go's syntax, linear time.

Patterns come from event data here, so the Python source shows them as the
regex engine reads them (no expression-string escaping).
"""

from __future__ import annotations

import pytest

from triggers import expr
from triggers.expr._regex import MAX_PATTERN_BYTES

pytestmark = pytest.mark.unit


def matches(text: str, pattern: str) -> object:
    return expr.compile("event.s matches event.p").run({"event": {"s": text, "p": pattern}})


def test_catastrophic_pattern_is_linear_on_a_long_text() -> None:
    # A backtracking engine needs ~2**n steps here: seconds at n = 26, never
    # finishing at n = 10,000; RE2 answers in one pass over the text.
    text = "a" * 10_000 + "b"
    prog = expr.compile('event.s matches "^(a+)+$"')
    assert prog.run({"event": {"s": text}}) is False
    assert prog.run({"event": {"s": "a" * 10_000}}) is True
    assert matches("a" * 10_000 + "!", "(a|aa)+$") is False
    assert matches("x" * 10_000, "(x+x+)+y") is False


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("héllo", r"^\pL+$", True),  # Unicode classes, new with RE2
        ("hé1", r"^\pL+$", False),
        ("αβγ", r"^\p{Greek}+$", True),
        ("abc", r"^\PL", False),
        ("aaa", r"(?U)^a+", True),  # ungreedy flag exists
        ("ab1", r"^[[:alpha:]]+[[:digit:]]$", True),
        ("1", r"[[:^alpha:]]", True),  # negated POSIX class
        ("line\n", r"line$", False),  # `$` is end of text without (?m)
        ("line\n", r"(?m)line$", True),
        ("a\nb", r"a\z", False),
        ("a.b", r"\Qa.b\E\z", True),
        ("axb", r"\Qa.b\E", False),
        ("FOO", r"(?i)foo", True),
        ("über", r"^.{4}$", True),  # `.` is one code point, not one byte
        ("a\nb", r"a.b", False),  # `.` does not match a newline without (?s)
        ("a\nb", r"(?s)a.b", True),
        ("word", r"\bword\b", True),
        ("", r"^$", True),
        ("ab", r"(?P<x>a)b", True),  # named groups are valid RE2
    ],
)
def test_go_regexp_semantics(text: str, pattern: str, expected: bool) -> None:
    assert matches(text, pattern) is expected


@pytest.mark.parametrize(
    "pattern",
    [r"(a)\1", r"a(?=b)", r"a(?!b)", r"(?<=a)b", r"(?P=x)", r"\C", r"\Z", "a{1001}", "(", "[z-a]"],
)
def test_patterns_go_rejects_fail_at_run_time_from_data(pattern: str) -> None:
    with pytest.raises(expr.EvalError, match="error parsing regexp"):
        matches("a", pattern)


def test_constant_invalid_pattern_is_a_compile_error_with_go_wording() -> None:
    with pytest.raises(expr.CompileError, match=r"invalid escape sequence: `\\1`"):
        expr.compile(r'event.s matches "(a)\\1"')


def test_pattern_length_is_capped() -> None:
    long = "a" * (MAX_PATTERN_BYTES + 1)
    with pytest.raises(expr.CompileError, match="pattern too long"):
        expr.compile(f'event.s matches "{long}"')
    with pytest.raises(expr.EvalError, match="pattern too long"):
        matches("a", long)
    assert matches("a" * MAX_PATTERN_BYTES, "a" * MAX_PATTERN_BYTES) is True


def test_lone_surrogates_match_as_replacement_characters() -> None:
    # Go decodes "\ud800" to U+FFFD; RE2 needs valid UTF-8.
    assert matches("a\ud800", "a\ufffd") is True
    assert matches("a\ufffd", "a\ud800") is True


def test_nil_operands_do_not_match_and_other_types_fail() -> None:
    assert matches(None, "a") is False  # type: ignore[arg-type]
    with pytest.raises(expr.EvalError, match="not string"):
        matches("a", 5)  # type: ignore[arg-type]
