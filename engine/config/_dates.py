"""RFC 3339 dates as the upstream stages read and print them.

Upstream parses with Go's RFC 3339 layout (optional fraction, ``Z`` or a
``±hh:mm`` offset), rounds to microseconds and keeps UTC; Python's
``datetime`` holds exactly microseconds, so nothing is lost here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))"
)


def parse_date(text: str) -> datetime:
    """Parse an RFC 3339 date into an aware UTC ``datetime``; ``ValueError`` otherwise."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date: {text!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction, zulu, sign, off_hours, off_minutes = match.group(7, 8, 9, 10, 11)
    if zulu:
        zone = UTC
    else:
        if int(off_hours) > 23 or int(off_minutes) > 59:
            raise ValueError(f"offset out of range in {text!r}")
        offset = timedelta(hours=int(off_hours), minutes=int(off_minutes))
        zone = timezone(-offset if sign == "-" else offset)
    # datetime() rejects impossible calendar values (month 13, Feb 30, second 60),
    # as Go's parser does.
    try:
        parsed = datetime(year, month, day, hour, minute, second, tzinfo=zone)
        if fraction:
            nanos = int(fraction.ljust(9, "0"))
            # Round half up to the microsecond, like upstream's Round(time.Microsecond).
            parsed += timedelta(microseconds=(nanos + 500) // 1000)
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # year 1 or 9999 pushed out of range by offset/rounding
        raise ValueError(f"date out of range: {text!r}") from exc


def format_date(value: datetime) -> str:
    """Print like Go's RFC 3339 with nanoseconds: UTC, ``Z``, trailing zeros dropped."""
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"
