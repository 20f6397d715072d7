"""Go duration parsing and canonical formatting."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import format_duration, parse_duration

pytestmark = pytest.mark.unit

NS = 1
US = 1_000
MS = 1_000_000
S = 1_000_000_000
M = 60 * S
H = 60 * M
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("0", 0),
        ("+0", 0),
        ("-0", 0),
        ("0s", 0),
        ("10s", 10 * S),
        ("300ms", 300 * MS),
        ("1.5h", H + 30 * M),
        ("2h45m", 2 * H + 45 * M),
        ("-3m2.5s", -(3 * M + 2 * S + 500 * MS)),
        ("+5m", 5 * M),
        ("1ns", 1),
        ("1us", US),
        ("1\u00b5s", US),  # micro sign
        ("1\u03bcs", US),  # Greek mu
        ("1.5\u00b5s", 1500 * NS),
        (".5s", 500 * MS),
        ("5.s", 5 * S),
        ("1h1h", 2 * H),  # repeated units add up, as in Go
        ("90s", 90 * S),
        ("1.000000001s", S + 1),
        ("0.0000000009s", 0),  # below a nanosecond truncates
        ("2562047h47m16.854775807s", INT64_MAX),
        ("-2562047h47m16.854775808s", INT64_MIN),
    ],
)
def test_parse(text: str, nanoseconds: int) -> None:
    assert parse_duration(text) == nanoseconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-",
        "+",
        "1",  # missing unit (only a bare "0" may omit it)
        "5 days",
        "5d",
        "1w",
        "h",
        ".",
        ".s",
        "1..5s",
        "1.5.5s",
        "s1",
        " 1s",
        "1s ",
        "1S",
        "2562047h47m16.854775808s",  # int64 overflow
        "-2562047h47m16.854775809s",
        "9999999999999999999h",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (999, "999ns"),
        (US, "1\u00b5s"),
        (1500, "1.5\u00b5s"),
        (300 * MS, "300ms"),
        (MS + 1, "1.000001ms"),
        (S, "1s"),
        (10 * S, "10s"),
        (90 * S, "1m30s"),
        (M, "1m0s"),
        (H, "1h0m0s"),
        (H + 30 * M, "1h30m0s"),
        (2 * H + 45 * M, "2h45m0s"),
        (-(3 * M + 2 * S + 500 * MS), "-3m2.5s"),
        (-1, "-1ns"),
        (-1500, "-1.5\u00b5s"),
        (S + 1, "1.000000001s"),
        (100 * H, "100h0m0s"),
        (INT64_MAX, "2562047h47m16.854775807s"),
        (INT64_MIN, "-2562047h47m16.854775808s"),
    ],
)
def test_format(nanoseconds: int, text: str) -> None:
    assert format_duration(nanoseconds) == text


@pytest.mark.parametrize(
    ("given_text", "canonical"),
    [("90s", "1m30s"), ("1h", "1h0m0s"), ("1.5h", "1h30m0s"), ("300ms", "300ms"), ("0", "0s")],
)
def test_reprint_in_canonical_form(given_text: str, canonical: str) -> None:
    assert format_duration(parse_duration(given_text)) == canonical


@settings(database=None)
@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
def test_format_parse_round_trip(nanoseconds: int) -> None:
    text = format_duration(nanoseconds)
    assert parse_duration(text) == nanoseconds
    assert format_duration(parse_duration(text)) == text


_UNITS = {"ns": NS, "us": US, "\u00b5s": US, "ms": MS, "s": S, "m": M, "h": H}


@settings(database=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 999), st.sampled_from(sorted(_UNITS))),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_parse_composed_strings(parts: list[tuple[int, int, str]], negative: bool) -> None:
    text = ("-" if negative else "") + "".join(f"{w}.{f:03d}{u}" for w, f, u in parts)
    expected = sum(w * _UNITS[u] + f * _UNITS[u] // 1000 for w, f, u in parts)
    parsed = parse_duration(text)
    assert parsed == (-expected if negative else expected)
    assert format_duration(parse_duration(format_duration(parsed))) == format_duration(parsed)
