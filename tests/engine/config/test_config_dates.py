"""RFC 3339 dates as upstream reads and prints them."""

from datetime import UTC, datetime

import pytest

from engine.config import format_date, parse_date

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-04T12:00:00Z", datetime(2025, 3, 4, 12, tzinfo=UTC)),
        ("2025-03-04T12:00:00+02:00", datetime(2025, 3, 4, 10, tzinfo=UTC)),
        ("2025-03-04T12:00:00-01:30", datetime(2025, 3, 4, 13, 30, tzinfo=UTC)),
        ("2025-03-04T10:15:30.123456Z", datetime(2025, 3, 4, 10, 15, 30, 123456, tzinfo=UTC)),
        ("2025-03-04T10:15:30.1Z", datetime(2025, 3, 4, 10, 15, 30, 100000, tzinfo=UTC)),
        # Nanoseconds round to the microsecond, as upstream does.
        ("2025-03-04T10:15:30.123456789Z", datetime(2025, 3, 4, 10, 15, 30, 123457, tzinfo=UTC)),
        ("2025-03-04T23:59:59.9999996Z", datetime(2025, 3, 5, tzinfo=UTC)),
    ],
)
def test_parse(text: str, expected: datetime) -> None:
    assert parse_date(text) == expected
    assert parse_date(text).tzinfo == UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tomorrow",
        "2025-03-04",
        "2025-03-04T12:00:00",  # no zone
        "2025-03-04 12:00:00Z",
        "2025-03-04T12:00Z",
        "2025-13-04T12:00:00Z",
        "2025-02-30T00:00:00Z",
        "2025-03-04T24:00:00Z",
        "2025-03-04T12:00:60Z",
        "2025-03-04T12:00:00+25:00",
        "2025-03-04T12:00:00.Z",
        "2025-03-04T12:00:00.1234567890Z",
        "9999-12-31T23:59:59.9999999Z",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2025, 3, 4, 12, tzinfo=UTC), "2025-03-04T12:00:00Z"),
        (datetime(2025, 3, 4, 10, 15, 30, 123450, tzinfo=UTC), "2025-03-04T10:15:30.12345Z"),
        (parse_date("2025-03-04T12:00:00+02:00"), "2025-03-04T10:00:00Z"),
    ],
)
def test_format(value: datetime, text: str) -> None:
    assert format_date(value) == text
