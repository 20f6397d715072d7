"""Date and duration builtins (EXPR.md section 8, optional for triggers).

Expected texts follow Go's documented formats: ``Time.String`` is
``2006-01-02 15:04:05.999999999 -0700 MST``, ``Duration.String`` is
``72h3m0.5s``, JSON times are RFC 3339.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from triggers import expr

pytestmark = pytest.mark.unit

EVENT = {"timestamp": "2025-03-04T09:00:01.2Z", "day": "2024-01-01"}


def run(src: str) -> Any:
    return expr.compile(src).run({"event": EVENT})


def var(src: str) -> str:
    return expr.format_var(run(src))


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ('date(event.timestamp) > date("2024-01-01")', True),
        ("date(event.day) < date(event.timestamp)", True),
        ('date("2024-01-01") == date("2024-01-01T00:00:00Z")', True),
        ('date("2024-01-01T02:00:00+02:00") == date("2024-01-01")', True),
        ("date(event.timestamp).Year()", 2025),
        ("date(event.timestamp).Day()", 4),
        ("date(event.timestamp).Hour()", 9),
        ("int(date(event.timestamp).Month())", 3),
        ("date(event.timestamp).Month() == 3", False),  # time.Month is not an int
        ("date(event.day).Unix()", 1704067200),
        ('duration("1h30m") > duration("90m") || duration("1h30m") == duration("90m")', True),
        ("(date(event.timestamp) - date(event.day)).Hours() > 24 * 365", True),
        ('date("2024-03-05 10:11:12").Minute()', 11),
        ('date("05/03/2024", "02/01/2006").Month() == date("2024-03-01").Month()', True),
        ('date("2024-03-05", "2006-01-02", "Europe/Paris").Hour()', 0),
        ('type(date("2024-01-01"))', "time.Time"),
        ('type(duration("1s"))', "time.Duration"),
        ('date("2024-01-01").Before(date("2024-01-02"))', True),
        ('date(event.timestamp).Format("2006-01-02 15:04")', "2025-03-04 09:00"),
        ('now() > date("2020-01-01")', True),
    ],
)
def test_time_values(src: str, expected: Any) -> None:
    assert run(src) == expected


@pytest.mark.parametrize(
    ("src", "text"),
    [
        ("date(event.timestamp)", "2025-03-04 09:00:01.2 +0000 UTC"),
        ('date("2024-03-05T10:00:00+02:00")', "2024-03-05 10:00:00 +0200 +0200"),
        ('duration("1h30m")', "1h30m0s"),
        ('duration("1.5s")', "1.5s"),
        ('duration("300ms")', "300ms"),
        ('duration("0")', "0s"),
        ('duration("-2h45m")', "-2h45m0s"),
        ("date(event.timestamp) - date(event.day)", "10281h0m1.2s"),
        ('date(event.day) + duration("36h")', "2024-01-02 12:00:00 +0000 UTC"),
        ("date(event.timestamp).Month()", "March"),
        ("date(event.timestamp).Weekday()", "Tuesday"),
        ("toJSON(date(event.timestamp))", '"2025-03-04T09:00:01.2Z"'),
    ],
)
def test_time_text(src: str, text: str) -> None:
    assert var(src) == text


@pytest.mark.parametrize(
    "src",
    [
        'date("not a date")',
        'duration("5x")',
        'duration("")',
        'date("2024-01-01", "2006-01-02", "Mars/Olympus")',
        # A time against an event value of unknown type compiles.
        'date("2024-01-01") > event.n',
        "date(event.day) + event.n",
        'date("2024-01-01").NoSuchMethod()',
    ],
)
def test_time_errors(src: str) -> None:
    prog = expr.compile(src)
    with pytest.raises(expr.EvalError):
        prog.run({"event": {**EVENT, "n": 5.0}})


@pytest.mark.parametrize(
    "src",
    [
        # date() is a time.Time to upstream's checker: a literal int beside it is rejected.
        'date("2024-01-01") > 5',
        "date(event.day) + 5",
        'duration("1h") < 5',
        "now() - 1",
        'duration("1h") / 2',
    ],
)
def test_time_type_errors_at_compile_time(src: str) -> None:
    with pytest.raises(expr.CompileError):
        expr.compile(src)


def test_now_is_not_folded_at_compile_time() -> None:
    # Compiled once, run either side of a pause: a value folded at compile
    # time would come back equal; 10 ms is far above the clock's resolution.
    prog = expr.compile("now()")
    before = prog.run({})
    time.sleep(0.01)
    assert prog.run({}) > before


def test_constant_time_arithmetic_type_error_is_a_compile_error() -> None:
    with pytest.raises(expr.CompileError):
        expr.compile('date("2024-01-01") + 5')
