import datetime as dt
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams import codec

pytestmark = pytest.mark.unit

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_round_trip_keeps_every_value_exact(value: object) -> None:
    assert codec.loads(codec.dumps(value)) == value


def test_integers_beyond_64_bits_stay_integers() -> None:
    big = 2**70 + 1
    assert codec.loads(json.dumps({"amount": big}).encode()) == {"amount": big}
    assert codec.loads(codec.dumps([big, -big])) == [big, -big]


def test_bad_json_raises_value_error() -> None:
    with pytest.raises(ValueError):
        codec.loads(b"{nope")
    with pytest.raises(ValueError):
        codec.loads(b'{"n": 123456789012345678901234, ')


def test_integers_just_outside_int64_stay_exact() -> None:
    # orjson floats -(2**63 + 1), a 19-digit run.
    values = [-(2**63) - 1, 2**64, 2**70, -(2**70)]
    assert codec.loads(codec.dumps(values)) == values


def test_deep_nesting_is_a_decode_error_not_a_recursion_error() -> None:
    deep = b"[" * 1000 + b"]" * 1000
    with pytest.raises(codec.DecodeError):
        codec.loads(deep)
    # Brackets inside strings do not count.
    assert codec.loads(b'{"s": "' + b"[" * 1000 + b'"}') == {"s": "[" * 1000}
    shallow = b"[" * codec.MAX_DEPTH + b"]" * codec.MAX_DEPTH
    assert codec.loads(shallow) is not None


def test_datetimes_are_written_alike_with_or_without_big_integers() -> None:
    at = dt.datetime(2025, 3, 4, 10, 22, 0, 1000, tzinfo=dt.UTC)
    small, big = (
        codec.loads(codec.dumps({"at": at, "n": 1})),
        codec.loads(codec.dumps({"at": at, "n": 2**70})),
    )
    assert small["at"] == big["at"] == "2025-03-04T10:22:00.001000+00:00"
    assert big["n"] == 2**70
    with pytest.raises(TypeError):
        codec.dumps({"n": 2**70, "x": object()})


@given(st.binary(max_size=80) | st.text(alphabet="0123456789 a.-é", max_size=80).map(str.encode))
def test_a_digit_run_is_found_exactly_when_one_that_long_is_there(data: bytes) -> None:
    for n in (1, 3, 16, 19):
        assert codec.has_digit_run(data, n) == bool(re.search(rb"[0-9]{%d}" % n, data))


def test_a_run_one_digit_short_keeps_the_fast_decoder_and_a_long_one_stays_exact() -> None:
    assert not codec.has_digit_run(b'{"a": 123456789012345678}', 19)
    assert codec.has_digit_run(b'{"a": 1234567890123456789}', 19)
    # Two runs side by side, split by a dot, are not one run.
    assert not codec.has_digit_run(b"1234567890.123456789", 19)
    assert codec.loads(b'{"a": 99999999999999999999}') == {"a": 99999999999999999999}


def _reference_depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    return 0


tricky_text = st.text(alphabet='[]{}"\\ab\n\u00e9', max_size=8)
tricky_values = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=12,
)


@given(tricky_values, st.integers(min_value=0, max_value=140))
def test_depth_counts_brackets_outside_strings_only(value: object, wrap: int) -> None:
    # Brackets, quotes and backslashes inside strings must not count.
    data = b"[" * wrap + json.dumps(value).encode() + b"]" * wrap
    expected = wrap + _reference_depth(value)
    assert codec._depth(data) == expected
    if expected > codec.MAX_DEPTH:
        with pytest.raises(codec.DecodeError):
            codec.loads(data)
    else:
        assert codec.loads(data) == json.loads(data)
